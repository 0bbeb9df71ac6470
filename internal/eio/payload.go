package eio

import "bytes"

// Separator is the record separator (ASCII RS) between the packets of a
// polling payload.
const Separator = 0x1e

// Limits bounds a payload before it is decoded. A zero field is no limit.
// The server passes its maxPayload as MaxBytes (and answers 413 itself when
// a POST body is larger, before reading it whole); MaxPackets bounds the
// per-packet work a small body can cause (a 1 MB body of "6\x1e" is half a
// million packets).
type Limits struct {
	MaxPackets int
	MaxBytes   int
}

// check applies l to body and returns the number of packets in it.
func (l Limits) check(body []byte) (int, error) {
	if l.MaxBytes > 0 && len(body) > l.MaxBytes {
		return 0, ErrPayloadTooLarge
	}
	// Counting first (bytes.Count is vectorised) rejects a flood before any
	// of it is delivered, and lets DecodePayload size its slice once.
	n := bytes.Count(body, []byte{Separator}) + 1
	if l.MaxPackets > 0 && n > l.MaxPackets {
		return n, ErrTooManyPackets
	}
	return n, nil
}

// AppendPayload appends packets as a polling payload: each in its text form
// (see [AppendPacket]; binary messages as "b" + base64), joined by
// [Separator]. It refuses, with ErrSeparator, a text packet whose data holds
// the separator, and with ErrUnknownType an invalid type; dst is then
// returned unchanged. No packets is an empty payload, which no decoder
// accepts: a poll response always carries at least one packet.
func AppendPayload(dst []byte, packets ...Packet) ([]byte, error) {
	start := len(dst)
	for i, p := range packets {
		if !p.Binary && bytes.IndexByte(p.Data, Separator) >= 0 {
			return dst[:start], ErrSeparator
		}
		if i > 0 {
			dst = append(dst, Separator)
		}
		var err error
		if dst, err = AppendPacket(dst, p); err != nil {
			return dst[:start], err
		}
	}
	return dst, nil
}

// PayloadScanner splits a polling payload into packets, one per Next, in the
// manner of bufio.Scanner; it allocates nothing. Data aliases the body, and
// binary packets are decoded in place in it (see the package doc). Decoding
// stops at the first malformed packet, after yielding the good ones before
// it, as the reference server does (it delivers them, then closes the
// session with "parse error").
//
//	var s eio.PayloadScanner
//	s.Reset(body, eio.Limits{MaxPackets: 64, MaxBytes: 1e6})
//	for s.Next() {
//		handle(s.Packet())
//	}
//	if err := s.Err(); err != nil { ... }
type PayloadScanner struct {
	rest  []byte
	index int // index of the packet Next decodes next
	done  bool
	pkt   Packet
	err   error
}

// Reset makes s scan body under l. A body over the limits is rejected here,
// before any packet is yielded: Next returns false and Err says why.
func (s *PayloadScanner) Reset(body []byte, l Limits) {
	*s = PayloadScanner{rest: body}
	if _, err := l.check(body); err != nil {
		s.err, s.done = err, true
	}
}

// Next decodes the next packet and reports whether there was one.
func (s *PayloadScanner) Next() bool {
	if s.done {
		return false
	}
	var raw []byte
	if i := bytes.IndexByte(s.rest, Separator); i >= 0 {
		raw, s.rest = s.rest[:i], s.rest[i+1:]
	} else {
		raw, s.rest, s.done = s.rest, nil, true
	}
	p, err := DecodePacket(raw)
	if err != nil {
		s.err, s.done, s.pkt = &DecodeError{Index: s.index, Err: err}, true, Packet{}
		return false
	}
	s.pkt = p
	s.index++
	return true
}

// Packet is the packet the last successful Next decoded.
func (s *PayloadScanner) Packet() Packet { return s.pkt }

// Err is the reason scanning stopped early: ErrPayloadTooLarge,
// ErrTooManyPackets, or a [*DecodeError]; nil after a well-formed payload.
func (s *PayloadScanner) Err() error { return s.err }

// DecodePayload appends the packets of a polling payload to dst. It checks l
// first (nothing is appended on ErrPayloadTooLarge or ErrTooManyPackets),
// grows dst at most once, to hold exactly the packets in body, and copies no
// data; binary packets are decoded in place in body. On a malformed packet
// it returns the packets before it and a [*DecodeError].
func DecodePayload(dst []Packet, body []byte, l Limits) ([]Packet, error) {
	n, err := l.check(body)
	if err != nil {
		return dst, err
	}
	if free := cap(dst) - len(dst); free < n {
		grown := make([]Packet, len(dst), len(dst)+n)
		copy(grown, dst)
		dst = grown
	}
	var s PayloadScanner
	s.rest = body // already checked
	for s.Next() {
		dst = append(dst, s.pkt)
	}
	return dst, s.err
}
