package allspark

import (
	"encoding/binary"
	"errors"
)

// The publication wire format, shared by every broker that carries
// publications as bytes (Redis, NATS). It is a small binary layout rather
// than JSON so that a publication's payload, already encoded once for all
// receivers, crosses the broker without being escaped or copied twice:
//
//	version (1 byte, 1) | flags (1 byte: 1 All, 2 Binary, 4 Value, 8 Pos)
//	Node | Namespace                        (uvarint length + bytes each)
//	len(Rooms) Rooms… | len(Sparks) Sparks… | len(Except) Except…
//	Value                                   (uvarint length + bytes; only with flag 4)
//	Pos.Offset (uvarint) | Pos.Epoch        (only with flag 8)
//	Payload                                 (the rest of the message)
//
// Unknown versions are refused, so a later layout can be rolled out node by
// node with a version bump.
const publicationVersion = 1

const (
	pubFlagAll    = 1
	pubFlagBinary = 2
	pubFlagValue  = 4
	pubFlagPos    = 8
	pubFlags      = pubFlagAll | pubFlagBinary | pubFlagValue | pubFlagPos
)

// ErrBadPublication: bytes handed to UnmarshalPublication are not a
// publication this version can read.
var ErrBadPublication = errors.New("allspark: malformed publication")

// maxPublicationList bounds the room, spark and except lists of a received
// publication, so a corrupt length cannot make the reader allocate.
const maxPublicationList = 1 << 16

// MarshalPublication appends p's wire form to dst.
func MarshalPublication(dst []byte, p *Publication) []byte {
	var flags byte
	if p.All {
		flags |= pubFlagAll
	}
	if p.Binary {
		flags |= pubFlagBinary
	}
	if p.Value != nil {
		flags |= pubFlagValue
	}
	if p.Pos.Offset != 0 {
		flags |= pubFlagPos
	}
	dst = append(dst, publicationVersion, flags)
	dst = appendString(dst, p.Node)
	dst = appendString(dst, p.Namespace)
	for _, list := range [...][]string{p.Rooms, p.Sparks, p.Except} {
		dst = binary.AppendUvarint(dst, uint64(len(list)))
		for _, s := range list {
			dst = appendString(dst, s)
		}
	}
	if p.Value != nil {
		dst = binary.AppendUvarint(dst, uint64(len(p.Value)))
		dst = append(dst, p.Value...)
	}
	if p.Pos.Offset != 0 {
		dst = binary.AppendUvarint(dst, p.Pos.Offset)
		dst = appendString(dst, p.Pos.Epoch)
	}
	return append(dst, p.Payload...)
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// UnmarshalPublication reads a publication written by MarshalPublication.
// Payload and Value alias b; the strings are copies.
func UnmarshalPublication(b []byte) (*Publication, error) {
	if len(b) < 2 || b[0] != publicationVersion || b[1]&^pubFlags != 0 {
		return nil, ErrBadPublication
	}
	p := &Publication{All: b[1]&pubFlagAll != 0, Binary: b[1]&pubFlagBinary != 0}
	r := pubReader{b: b[2:]}
	p.Node = r.string()
	p.Namespace = r.string()
	p.Rooms = r.list()
	p.Sparks = r.list()
	p.Except = r.list()
	if b[1]&pubFlagValue != 0 {
		p.Value = r.bytes()
	}
	if b[1]&pubFlagPos != 0 {
		p.Pos.Offset = r.uvarint()
		p.Pos.Epoch = r.string()
		if p.Pos.Offset == 0 || len(p.Rooms) != 1 {
			r.bad = true // a position belongs to exactly one room's stream
		}
	}
	if r.bad {
		return nil, ErrBadPublication
	}
	p.Payload = r.b
	return p, nil
}

type pubReader struct {
	b   []byte
	bad bool
}

func (r *pubReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *pubReader) string() string {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *pubReader) bytes() []byte {
	n := r.uvarint()
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *pubReader) list() []string {
	n := r.uvarint()
	if r.bad || n > maxPublicationList || n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.string()
	}
	return out
}
