package nats

import (
	"encoding/binary"

	"github.com/allspark/allspark"
)

// The envelope: every NATS message the Broker sends is one of
//
//	'p' | allspark.MarshalPublication bytes          a publication
//	'm' | uvarint len | from | uvarint len | to | msg  a node-to-node message
//	'k' | uvarint seq                                  a probe (node to itself)
//
// A message's to is "" for a broadcast (Send to every other node); the
// receiver checks it even on its own node subject, so a misrouted message is
// dropped rather than handed to the wrong node. The first byte leaves room
// for later kinds: an unknown one is refused (ErrBadEnvelope), dropped and
// counted, never guessed at.
const (
	kindPublication = 'p'
	kindMessage     = 'm'
	kindProbe       = 'k'
)

// envelope is a decoded envelope. pub.Payload and msg alias the received
// bytes; the strings are copies.
type envelope struct {
	kind     byte
	pub      *allspark.Publication
	from, to string
	msg      []byte
	seq      uint64
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
	return binary.AppendUvarint(append(dst, kindProbe), seq)
}

// decodeEnvelope reads an envelope. It never panics and allocates nothing
// that the input's length does not pay for.
func decodeEnvelope(b []byte) (envelope, error) {
	if len(b) == 0 {
		return envelope{}, ErrBadEnvelope
	}
	e := envelope{kind: b[0]}
	b = b[1:]
	switch e.kind {
	case kindPublication:
		p, err := allspark.UnmarshalPublication(b)
		if err != nil {
			return envelope{}, ErrBadEnvelope
		}
		e.pub = p
	case kindMessage:
		var ok bool
		if e.from, b, ok = readString(b); !ok {
			return envelope{}, ErrBadEnvelope
		}
		if e.to, b, ok = readString(b); !ok {
			return envelope{}, ErrBadEnvelope
		}
		e.msg = b
	case kindProbe:
		seq, n := binary.Uvarint(b)
		if n <= 0 || n != len(b) {
			return envelope{}, ErrBadEnvelope
		}
		e.seq = seq
	default:
		return envelope{}, ErrBadEnvelope
	}
	return e, nil
}

func readString(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, false
	}
	b = b[k:]
	return string(b[:n]), b[n:], true
}
