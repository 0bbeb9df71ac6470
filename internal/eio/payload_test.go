package eio

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestAppendPayload(t *testing.T) {
	got, err := AppendPayload(nil,
		Packet{Type: Message, Data: []byte("hello")}, Packet{Type: Ping}, Packet{Type: Message, Data: []byte("world")})
	if err != nil || string(got) != "4hello\x1e2\x1e4world" {
		t.Errorf("AppendPayload = %q, %v", got, err)
	}
	got, err = AppendPayload(nil, Packet{Type: Message, Data: []byte("€")}, Packet{Type: Message, Binary: true, Data: []byte{1, 2, 3, 4}})
	if err != nil || string(got) != "4€\x1ebAQIDBA==" {
		t.Errorf("AppendPayload(text, binary) = %q, %v", got, err)
	}
	// A separator inside text data would split the packet on the client:
	// refused, and dst left as it was. Binary data may hold any byte.
	got, err = AppendPayload([]byte("keep"), Packet{Type: Noop}, Packet{Type: Message, Data: []byte("a\x1e4injected")})
	if !errors.Is(err, ErrSeparator) || string(got) != "keep" {
		t.Errorf("AppendPayload(separator in text) = %q, %v; want keep, ErrSeparator", got, err)
	}
	if _, err = AppendPayload(nil, Packet{Type: Message, Binary: true, Data: []byte{Separator}}); err != nil {
		t.Errorf("AppendPayload(separator in binary) error = %v", err)
	}
	if got, err = AppendPayload([]byte("keep"), Packet{Type: Noop}, Packet{Type: 9}); !errors.Is(err, ErrUnknownType) || string(got) != "keep" {
		t.Errorf("AppendPayload(bad type) = %q, %v", got, err)
	}
}

func TestDecodePayload(t *testing.T) {
	msg := func(s string) Packet { return Packet{Type: Message, Data: []byte(s)} }
	tests := []struct {
		in      string
		lim     Limits
		want    []Packet
		wantErr error
		index   int // of the bad packet, for a DecodeError
	}{
		{in: "4hello\x1e2\x1e4world", want: []Packet{msg("hello"), {Type: Ping, Data: []byte{}}, msg("world")}},
		{in: "4hello", want: []Packet{msg("hello")}},
		{in: "bAQIDBA==\x1e4x", want: []Packet{{Type: Message, Binary: true, Data: []byte{1, 2, 3, 4}}, msg("x")}},
		{in: "1", want: []Packet{{Type: Close, Data: []byte{}}}},
		{in: "", wantErr: ErrEmptyPacket, index: 0},
		{in: "4a\x1e", want: []Packet{msg("a")}, wantErr: ErrEmptyPacket, index: 1},
		{in: "\x1e4a", wantErr: ErrEmptyPacket, index: 0},
		{in: "4a\x1e\x1e4b", want: []Packet{msg("a")}, wantErr: ErrEmptyPacket, index: 1},
		{in: "4a\x1eabc\x1e4b", want: []Packet{msg("a")}, wantErr: ErrUnknownType, index: 1},
		{in: "4a\x1eb!!!!", want: []Packet{msg("a")}, wantErr: ErrBadBase64, index: 1},
		{in: "6\x1e6\x1e6", lim: Limits{MaxPackets: 2}, wantErr: ErrTooManyPackets},
		{in: "6\x1e6", lim: Limits{MaxPackets: 2}, want: []Packet{{Type: Noop, Data: []byte{}}, {Type: Noop, Data: []byte{}}}},
		{in: "4hello", lim: Limits{MaxBytes: 5}, wantErr: ErrPayloadTooLarge},
		{in: "4hello", lim: Limits{MaxBytes: 6}, want: []Packet{msg("hello")}},
	}
	for _, tt := range tests {
		got, err := DecodePayload(nil, []byte(tt.in), tt.lim)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("DecodePayload(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			continue
		}
		var de *DecodeError
		if errors.As(err, &de) && de.Index != tt.index {
			t.Errorf("DecodePayload(%q) bad packet index %d, want %d", tt.in, de.Index, tt.index)
		}
		if len(got) != len(tt.want) {
			t.Errorf("DecodePayload(%q) = %d packets %+v, want %+v", tt.in, len(got), got, tt.want)
			continue
		}
		for i := range got {
			if !packetEqual(got[i], tt.want[i]) {
				t.Errorf("DecodePayload(%q)[%d] = %+v, want %+v", tt.in, i, got[i], tt.want[i])
			}
		}
		// The scanner yields the same packets and stops with the same error.
		var s PayloadScanner
		s.Reset([]byte(tt.in), tt.lim)
		n := 0
		for s.Next() {
			if n >= len(tt.want) || !packetEqual(s.Packet(), tt.want[n]) {
				t.Errorf("scanner(%q)[%d] = %+v", tt.in, n, s.Packet())
			}
			n++
		}
		if n != len(tt.want) || !errors.Is(s.Err(), tt.wantErr) {
			t.Errorf("scanner(%q) = %d packets, %v; want %d, %v", tt.in, n, s.Err(), len(tt.want), tt.wantErr)
		}
	}
}

// TestDecodePayloadLimitsFirst checks that a payload over MaxPackets is
// rejected before any packet is delivered, even when its first packets are
// well formed: a flood costs one vectorised count, not per-packet work.
func TestDecodePayloadLimitsFirst(t *testing.T) {
	body := []byte(strings.Repeat("4x\x1e", 1000) + "4x")
	got, err := DecodePayload(nil, body, Limits{MaxPackets: 1000})
	if !errors.Is(err, ErrTooManyPackets) || len(got) != 0 {
		t.Errorf("DecodePayload(1001 packets, max 1000) = %d packets, %v", len(got), err)
	}
	var s PayloadScanner
	s.Reset(body, Limits{MaxPackets: 1000})
	if s.Next() || !errors.Is(s.Err(), ErrTooManyPackets) {
		t.Errorf("scanner over the limit: Next true or Err %v", s.Err())
	}
}

// TestDecodePayloadAllocations checks the allocation contract: no data is
// copied, the scanner and a decode into a slice with room allocate nothing,
// and a decode into nil allocates the packet slice exactly once.
func TestDecodePayloadAllocations(t *testing.T) {
	src := []byte("4hello\x1ebAQIDBA==\x1e2\x1e4world")
	body := make([]byte, len(src))
	dst := make([]Packet, 0, 8)
	if a := testing.AllocsPerRun(100, func() {
		copy(body, src)
		dst, _ = DecodePayload(dst[:0], body, Limits{MaxPackets: 8})
	}); a != 0 {
		t.Errorf("DecodePayload into a slice with room: %v allocs, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		copy(body, src)
		var s PayloadScanner
		s.Reset(body, Limits{})
		for s.Next() {
		}
	}); a != 0 {
		t.Errorf("PayloadScanner: %v allocs, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		copy(body, src)
		_, _ = DecodePayload(nil, body, Limits{})
	}); a != 1 {
		t.Errorf("DecodePayload into nil: %v allocs, want 1", a)
	}
	copy(body, src)
	got, _ := DecodePayload(dst[:0], body, Limits{})
	for _, p := range got {
		if len(p.Data) > 0 && !within(body, p.Data) {
			t.Errorf("packet %+v does not alias the body", p)
		}
	}
}

func within(outer, inner []byte) bool {
	for i := range outer {
		if &outer[i] == &inner[0] {
			return i+len(inner) <= len(outer)
		}
	}
	return false
}

// TestPayloadRoundTrip encodes packets of every kind and decodes them back.
func TestPayloadRoundTrip(t *testing.T) {
	in := []Packet{
		{Type: Open, Data: AppendOpen(nil, OpenPacket{SID: "x"})[1:]},
		{Type: Close, Data: []byte{}}, {Type: Ping, Data: []byte("probe")}, {Type: Pong, Data: []byte{}},
		{Type: Message, Data: []byte(`"primus::ping::1700000000000"`)},
		{Type: Message, Binary: true, Data: []byte{0, 0x1e, 0xff, '4'}},
		{Type: Upgrade, Data: []byte{}}, {Type: Noop, Data: []byte{}},
	}
	enc, err := AppendPayload(nil, in...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := DecodePayload(nil, bytes.Clone(enc), Limits{MaxPackets: len(in), MaxBytes: len(enc)})
	if err != nil || len(out) != len(in) {
		t.Fatalf("round trip: %d packets, %v", len(out), err)
	}
	for i := range in {
		if !packetEqual(in[i], out[i]) {
			t.Errorf("round trip [%d] = %+v, want %+v", i, out[i], in[i])
		}
	}
}
