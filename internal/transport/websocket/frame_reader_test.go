package websocket

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// sinkLog records what a frameReader decodes, as strings in order.
type sinkLog struct{ got []string }

func (s *sinkLog) message(binary bool, p []byte) {
	s.got = append(s.got, fmt.Sprintf("msg:%v:%s", binary, p))
}
func (s *sinkLog) control(op byte, p []byte) bool {
	s.got = append(s.got, fmt.Sprintf("ctl:%x:%s", op, p))
	return op != 0x8
}
func (s *sinkLog) inflate(p []byte, limit int) ([]byte, error) { return inflateMessage(p, limit) }

// stream is a message in three fragments with a ping and a pong between
// them, a whole text message, an empty binary message and a Close frame,
// then bytes the reader must not look at.
func stream() []byte {
	var b []byte
	b = append(b, clientFrame(false, 0x1, []byte("frag-"))...)
	b = append(b, clientFrame(true, 0x9, []byte("p1"))...)
	b = append(b, clientFrame(false, 0x0, []byte(strings.Repeat("m", 300)))...)
	b = append(b, clientFrame(true, 0xA, nil)...)
	b = append(b, clientFrame(true, 0x0, []byte("-end"))...)
	b = append(b, clientFrame(true, 0x1, []byte("whole"))...)
	b = append(b, clientFrame(true, 0x2, nil)...)
	b = append(b, clientFrame(true, 0x8, closePayload(1000, "bye"))...)
	return append(b, clientFrame(true, 0x1, []byte("after close"))...)
}

var streamWant = []string{
	"ctl:9:p1", "ctl:a:", "msg:false:frag-" + strings.Repeat("m", 300) + "-end",
	"msg:false:whole", "msg:true:", "ctl:8:" + string(closePayload(1000, "bye")),
}

// Every split of the stream into two reads, and the stream a byte per
// read, decode to the same events: headers and payloads cut anywhere,
// control frames between fragments, nothing after the Close frame.
func TestFrameReaderSplitsAnywhere(t *testing.T) {
	whole := stream()
	for cut := 0; cut <= len(whole); cut++ {
		b := bytes.Clone(whole)
		r := frameReader{maxPayload: 1 << 20}
		s := &sinkLog{}
		if f := r.feed(b[:cut], s); f != nil {
			t.Fatalf("cut %d: %v", cut, f)
		}
		if f := r.feed(b[cut:], s); f != nil {
			t.Fatalf("cut %d: %v", cut, f)
		}
		if fmt.Sprint(s.got) != fmt.Sprint(streamWant) {
			t.Fatalf("cut %d:\n got %q\nwant %q", cut, s.got, streamWant)
		}
	}
	b := bytes.Clone(whole)
	r := frameReader{maxPayload: 1 << 20}
	s := &sinkLog{}
	for i := range b {
		if f := r.feed(b[i:i+1], s); f != nil {
			t.Fatalf("byte %d: %v", i, f)
		}
	}
	if fmt.Sprint(s.got) != fmt.Sprint(streamWant) {
		t.Fatalf("byte by byte:\n got %q\nwant %q", s.got, streamWant)
	}
}

// Between reads the reader holds only what arrived of an unfinished
// message, and nothing once it is delivered.
func TestFrameReaderHoldsOnlyWhatArrived(t *testing.T) {
	r := frameReader{maxPayload: 64 << 20}
	s := &sinkLog{}
	f := clientFrame(true, 0x2, make([]byte, 8<<20)) // declares 8 MiB
	if fl := r.feed(bytes.Clone(f[:100]), s); fl != nil {
		t.Fatal(fl)
	}
	if c := cap(r.msg); c > 4096 {
		t.Fatalf("holds a %d-byte buffer after 100 bytes of an 8 MiB frame", c)
	}
	if fl := r.feed(bytes.Clone(f[100:]), s); fl != nil {
		t.Fatal(fl)
	}
	if len(s.got) != 1 || r.msg != nil || r.ctl != nil {
		t.Fatalf("after delivery: %d events, msg cap %d", len(s.got), cap(r.msg))
	}
}

// Each protocol violation fails with its close code and error.
func TestFrameReaderRefuses(t *testing.T) {
	unmasked := clientFrame(true, 0x1, []byte("x"))
	unmasked[1] &^= 0x80
	unmasked = append(unmasked[:2], unmasked[6:]...)
	rsv := clientFrame(true, 0x1, []byte("x"))
	rsv[0] |= 0x20
	huge := header(true, 0x2, 0)
	huge[1] = 0x80 | 127
	huge = append(huge[:2], append([]byte{0x80, 0, 0, 0, 0, 0, 0, 0}, huge[2:]...)...)
	for _, tc := range []struct {
		name string
		in   []byte
		code uint16
		err  error
	}{
		{"unmasked", unmasked, 1002, ErrProtocol},
		{"reserved bit", rsv, 1002, ErrProtocol},
		{"RSV1 without deflate", func() []byte { b := clientFrame(true, 0x1, []byte("x")); b[0] |= 0x40; return b }(), 1002, ErrProtocol},
		{"unknown opcode", clientFrame(true, 0x3, nil), 1002, ErrProtocol},
		{"lone continuation", clientFrame(true, 0x0, []byte("x")), 1002, ErrProtocol},
		{"text inside a fragmented message", append(clientFrame(false, 0x1, []byte("a")), clientFrame(true, 0x1, []byte("b"))...), 1002, ErrProtocol},
		{"fragmented ping", clientFrame(false, 0x9, nil), 1002, ErrProtocol},
		{"ping over 125 bytes", clientFrame(true, 0x9, make([]byte, 126)), 1002, ErrProtocol},
		{"one-byte close", clientFrame(true, 0x8, []byte{3}), 1002, ErrProtocol},
		{"length with the top bit", huge, 1002, ErrProtocol},
		{"over the limit in one header", header(true, 0x2, 2000), 1009, ErrTooLarge},
		{"over the limit in fragments", append(clientFrame(false, 0x2, make([]byte, 600)), clientFrame(true, 0x0, make([]byte, 600))...), 1009, ErrTooLarge},
		{"bad UTF-8", clientFrame(true, 0x1, []byte{0xff, 'a'}), 1007, ErrInvalidUTF8},
		{"bad UTF-8 across fragments", append(clientFrame(false, 0x1, []byte{0xe2, 0x82}), clientFrame(true, 0x0, []byte{'x'})...), 1007, ErrInvalidUTF8},
	} {
		r := frameReader{maxPayload: 1000}
		f := r.feed(tc.in, &sinkLog{})
		if f == nil || f.code != tc.code || !errors.Is(f, tc.err) {
			t.Errorf("%s: %v, want %d %v", tc.name, f, tc.code, tc.err)
		}
		if f != nil && r.feed(clientFrame(true, 0x1, []byte("late")), &sinkLog{}) != nil {
			t.Errorf("%s: feeding after a failure did something", tc.name)
		}
	}
}

// A split UTF-8 sequence across fragments is one valid character.
func TestFrameReaderUTF8AcrossFragments(t *testing.T) {
	r := frameReader{maxPayload: 1000}
	s := &sinkLog{}
	in := append(clientFrame(false, 0x1, []byte{0xe2, 0x82}), clientFrame(true, 0x0, []byte{0xac})...)
	if f := r.feed(in, s); f != nil || len(s.got) != 1 || s.got[0] != "msg:false:€" {
		t.Fatalf("%v %q", f, s.got)
	}
}

// FuzzFrameReader feeds arbitrary bytes, split at an arbitrary point:
// never a panic, never a message over the limit, and the same result as
// one read of the same bytes.
func FuzzFrameReader(f *testing.F) {
	f.Add(stream(), uint16(7))
	f.Add(header(true, 0x2, 1<<40), uint16(3))
	f.Add(append(clientFrame(false, 0x1, []byte("a")), clientFrame(true, 0x9, []byte("b"))...), uint16(9))
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		const limit = 4096
		one := &sinkLog{}
		r1 := frameReader{maxPayload: limit}
		f1 := r1.feed(bytes.Clone(in), one)
		two := &sinkLog{}
		r2 := frameReader{maxPayload: limit}
		c := int(cut) % (len(in) + 1)
		b := bytes.Clone(in)
		f2 := r2.feed(b[:c], two)
		if f2 == nil {
			f2 = r2.feed(b[c:], two)
		}
		if (f1 == nil) != (f2 == nil) || fmt.Sprint(one.got) != fmt.Sprint(two.got) {
			t.Fatalf("one read: %v %q; split at %d: %v %q", f1, one.got, c, f2, two.got)
		}
		for _, g := range one.got {
			if len(g) > limit+20 {
				t.Fatalf("delivered %d bytes over a %d limit", len(g), limit)
			}
		}
	})
}
