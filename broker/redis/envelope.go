package redis

import (
	"encoding/binary"
	"sync"

	"github.com/allspark/allspark"
)

// The envelope is what travels in a PUBLISH on the broker's channels. Its
// first byte says what follows:
//
//	'p' publication: allspark.MarshalPublication bytes (the publishing
//	    node is inside, in Publication.Node)
//	'm' message (Broker.Send): uvarint len(from) | from |
//	    uvarint len(to) | to ("" for every node) | msg (the rest)
//	'k' probe: the sequence number, 8 bytes big-endian
//
// Sender and receiver stay beside the opaque message so that a node can
// drop its own traffic and check that a per-node message is for it.
const (
	kindPublication = 'p'
	kindMessage     = 'm'
	kindProbe       = 'k'
)

// maxNodeName bounds from and to in a message envelope: node names are ids,
// and a corrupt length must not make the decoder read far.
const maxNodeName = 1 << 10

// envelope is a decoded envelope. For a publication, pub is set; for a
// message, from, to and msg; for a probe, seq.
type envelope struct {
	kind     byte
	pub      *allspark.Publication
	from, to string
	msg      []byte
	seq      uint64
}

// decodeEnvelope reads b. The publication's Payload and msg alias b.
func decodeEnvelope(b []byte) (envelope, error) {
	if len(b) == 0 {
		return envelope{}, errBadEnvelope
	}
	e := envelope{kind: b[0]}
	b = b[1:]
	switch e.kind {
	case kindPublication:
		p, err := allspark.UnmarshalPublication(b)
		if err != nil {
			return envelope{}, errBadEnvelope
		}
		e.pub = p
	case kindMessage:
		var ok bool
		if e.from, b, ok = readName(b); !ok {
			return envelope{}, errBadEnvelope
		}
		if e.to, b, ok = readName(b); !ok {
			return envelope{}, errBadEnvelope
		}
		e.msg = b
	case kindProbe:
		if len(b) != 8 {
			return envelope{}, errBadEnvelope
		}
		e.seq = binary.BigEndian.Uint64(b)
	default:
		return envelope{}, errBadEnvelope
	}
	return e, nil
}

func readName(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxNodeName || n > uint64(len(b)-k) {
		return "", nil, false
	}
	b = b[k:]
	return string(b[:n]), b[n:], true
}

func appendPublication(dst []byte, p *allspark.Publication) []byte {
	return allspark.MarshalPublication(append(dst, kindPublication), p)
}

func appendMessage(dst []byte, from, to string, msg []byte) []byte {
	dst = append(dst, kindMessage)
	dst = binary.AppendUvarint(dst, uint64(len(from)))
	dst = append(dst, from...)
	dst = binary.AppendUvarint(dst, uint64(len(to)))
	dst = append(dst, to...)
	return append(dst, msg...)
}

func appendProbe(dst []byte, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, kindProbe), seq)
}

// bufPool holds the buffers Publish and Send build a channel name and an
// envelope in. Buffers that grew past maxPooledBuf are left to the GC, so
// one large publication does not pin its size in the pool.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooledBuf = 64 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
