package envelope

import (
	"encoding/binary"
	"errors"

	"github.com/allspark/allspark"
)

// Kinds of envelopes.
const (
	Publication = 'p'
	Message     = 'm'
	Probe       = 'k'
)

// ErrBad: bytes that are no envelope of this format.
var ErrBad = errors.New("malformed broker envelope")

// MaxNodeName bounds from and to in a message envelope: node names are
// ids, and a corrupt length must not make the decoder read far.
const MaxNodeName = 1 << 10

// Envelope is a decoded envelope: Pub for a publication; From, To and Msg
// for a message; Seq for a probe. Pub.Payload and Msg alias the decoded
// bytes; the strings are copies.
type Envelope struct {
	Kind     byte
	Pub      *allspark.Publication
	From, To string
	Msg      []byte
	Seq      uint64
}

// AppendPublication appends p's envelope to dst.
func AppendPublication(dst []byte, p *allspark.Publication) []byte {
	return allspark.MarshalPublication(append(dst, Publication), p)
}

// AppendMessage appends a node message's envelope to dst.
func AppendMessage(dst []byte, from, to string, msg []byte) []byte {
	dst = append(dst, Message)
	dst = binary.AppendUvarint(dst, uint64(len(from)))
	dst = append(dst, from...)
	dst = binary.AppendUvarint(dst, uint64(len(to)))
	dst = append(dst, to...)
	return append(dst, msg...)
}

// AppendProbe appends a probe's envelope to dst.
func AppendProbe(dst []byte, seq uint64) []byte {
	return binary.AppendUvarint(append(dst, Probe), seq)
}

// Decode reads an envelope. It never panics and allocates nothing the
// input's length does not pay for.
func Decode(b []byte) (Envelope, error) {
	if len(b) == 0 {
		return Envelope{}, ErrBad
	}
	e := Envelope{Kind: b[0]}
	b = b[1:]
	switch e.Kind {
	case Publication:
		p, err := allspark.UnmarshalPublication(b)
		if err != nil {
			return Envelope{}, ErrBad
		}
		e.Pub = p
	case Message:
		var ok bool
		if e.From, b, ok = readName(b); !ok {
			return Envelope{}, ErrBad
		}
		if e.To, b, ok = readName(b); !ok {
			return Envelope{}, ErrBad
		}
		e.Msg = b
	case Probe:
		seq, n := binary.Uvarint(b)
		if n <= 0 || n != len(b) {
			return Envelope{}, ErrBad
		}
		e.Seq = seq
	default:
		return Envelope{}, ErrBad
	}
	return e, nil
}

func readName(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > MaxNodeName || n > uint64(len(b)-k) {
		return "", nil, false
	}
	b = b[k:]
	return string(b[:n]), b[n:], true
}
