package eio

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodePacket: no panic, Data always inside the input (nothing copied
// or allocated), and a decoded packet re-encodes to something that decodes
// to the same packet (for text packets, to the very input).
func FuzzDecodePacket(f *testing.F) {
	for _, s := range []string{"4hello", "2probe", "3", "6", "bAQIDBA==", "bAQIDBA", "b", "", "7", "abc", "bA", "bAQ=", "0{\"sid\":\"x\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		src := bytes.Clone(in)
		p, err := DecodePacket(src)
		if err != nil {
			if !errors.Is(err, ErrEmptyPacket) && !errors.Is(err, ErrUnknownType) && !errors.Is(err, ErrBadBase64) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(p.Data) > 0 && !within(src, p.Data) {
			t.Fatalf("Data of %q does not alias the input", in)
		}
		enc, err := AppendPacket(nil, p)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", p, err)
		}
		if !p.Binary && !bytes.Equal(enc, in) {
			t.Fatalf("text packet %q re-encodes to %q", in, enc)
		}
		q, err := DecodePacket(enc)
		if err != nil || !packetEqual(p, q) {
			t.Fatalf("%q: decode(encode(%+v)) = %+v, %v", in, p, q, err)
		}
		if a := testing.AllocsPerRun(1, func() {
			copy(src, in)
			_, _ = DecodePacket(src)
		}); a != 0 {
			t.Fatalf("%q: %v allocations", in, a)
		}
	})
}

// FuzzDecodePayload: no panic; the scanner and DecodePayload agree; data
// stays inside the body; the scanner allocates nothing; a decoded payload
// re-encodes to one that decodes to the same packets.
func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{"4hello\x1e2\x1e4world", "bAQIDBA==\x1e4x", "", "\x1e", "4a\x1e", "4a\x1e\x1e4b", "4a\x1eabc", "6\x1e6\x1e6\x1e6\x1e6"} {
		f.Add([]byte(s))
	}
	lim := Limits{MaxPackets: 4, MaxBytes: 1 << 16}
	f.Fuzz(func(t *testing.T, in []byte) {
		body := bytes.Clone(in)
		got, err := DecodePayload(nil, body, lim)
		if err != nil {
			var de *DecodeError
			if !errors.Is(err, ErrTooManyPackets) && !errors.Is(err, ErrPayloadTooLarge) && !errors.As(err, &de) {
				t.Fatalf("unexpected error %v", err)
			}
		}
		if len(got) > lim.MaxPackets {
			t.Fatalf("%d packets past MaxPackets %d", len(got), lim.MaxPackets)
		}
		for _, p := range got {
			if len(p.Data) > 0 && !within(body, p.Data) {
				t.Fatalf("Data of %+v does not alias the body", p)
			}
		}
		scanBody := bytes.Clone(in)
		var s PayloadScanner
		s.Reset(scanBody, lim)
		n := 0
		for s.Next() {
			if n >= len(got) || !packetEqual(s.Packet(), got[n]) {
				t.Fatalf("scanner packet %d = %+v, DecodePayload has %+v", n, s.Packet(), got)
			}
			n++
		}
		if n != len(got) || (s.Err() == nil) != (err == nil) {
			t.Fatalf("scanner: %d packets, %v; DecodePayload: %d, %v", n, s.Err(), len(got), err)
		}
		if a := testing.AllocsPerRun(1, func() {
			copy(scanBody, in)
			var s PayloadScanner
			s.Reset(scanBody, Limits{MaxPackets: 4})
			for s.Next() {
			}
		}); a > 0 && s.Err() == nil {
			// Only an error (a *DecodeError) may allocate.
			t.Fatalf("%q: scanner made %v allocations", in, a)
		}
		if err != nil {
			return
		}
		enc, err := AppendPayload(nil, got...)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", got, err)
		}
		again, err := DecodePayload(nil, enc, Limits{})
		if err != nil || len(again) != len(got) {
			t.Fatalf("re-decoding %q: %+v, %v", enc, again, err)
		}
		for i := range got {
			if !packetEqual(got[i], again[i]) {
				t.Fatalf("packet %d: %+v re-decodes to %+v", i, got[i], again[i])
			}
		}
	})
}
