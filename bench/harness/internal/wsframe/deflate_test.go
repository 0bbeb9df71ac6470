package wsframe

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"strings"
	"testing"
)

// deflateMessage compresses p as a permessage-deflate sender without
// context takeover does: a fresh compressor, flushed, the tail stripped.
func deflateMessage(t *testing.T, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	fw, err := flate.NewWriter(&b, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write(p); err != nil {
		t.Fatal(err)
	}
	if err := fw.Flush(); err != nil {
		t.Fatal(err)
	}
	out := b.Bytes()
	if !bytes.HasSuffix(out, deflateTail) {
		t.Fatalf("flushed stream does not end with the empty stored block: % x", out)
	}
	return out[:len(out)-len(deflateTail)]
}

func TestReaderInflatesCompressedMessages(t *testing.T) {
	msg := []byte(strings.Repeat(`"primus::ping::1700000000000"`, 20))
	z := deflateMessage(t, msg)
	var b []byte
	f := AppendFrame(nil, OpText, z, nil)
	f[0] |= 0x40 // RSV1: compressed
	b = append(b, f...)
	b = AppendFrame(b, OpText, []byte("plain"), nil) // uncompressed is allowed too
	// A fragmented compressed message: RSV1 on the first frame only.
	half := len(z) / 2
	b = append(b, 0x41, byte(half))
	b = append(b, z[:half]...)
	b = append(b, 0x80, byte(len(z)-half))
	b = append(b, z[half:]...)

	rd := &Reader{R: bufio.NewReader(bytes.NewReader(b)), Limit: 1 << 20, Deflate: true}
	for i, want := range [][]byte{msg, []byte("plain"), msg} {
		op, p, err := rd.ReadMessage()
		if err != nil || op != OpText || !bytes.Equal(p, want) {
			t.Fatalf("message %d: op %d err %v, %d bytes (want %d)", i, op, err, len(p), len(want))
		}
	}
}

func TestReaderRefusesRSV1WithoutDeflate(t *testing.T) {
	f := AppendFrame(nil, OpText, deflateMessage(t, []byte("x")), nil)
	f[0] |= 0x40
	rd := &Reader{R: bufio.NewReader(bytes.NewReader(f)), Limit: 1 << 20}
	if _, _, err := rd.ReadMessage(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("err = %v, want ErrProtocol", err)
	}
	// Nor on a control frame or a continuation with Deflate on.
	for _, bad := range [][]byte{{0xC9, 0x00}, {0x01, 0x01, 'a', 0xC0, 0x00}} {
		rd := &Reader{R: bufio.NewReader(bytes.NewReader(bad)), Limit: 1 << 20, Deflate: true}
		if _, _, err := rd.ReadMessage(); !errors.Is(err, ErrProtocol) {
			t.Fatalf("% x: err = %v, want ErrProtocol", bad, err)
		}
	}
}

func TestInflateLimit(t *testing.T) {
	z := deflateMessage(t, make([]byte, 10000))
	if _, err := Inflate(nil, z, 1000); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

func TestCheckExtensions(t *testing.T) {
	for _, c := range []struct {
		ext     string
		deflate bool
		ok      bool
	}{
		{"", false, true},
		{"permessage-deflate", false, false},
		{"", true, false},
		{"permessage-deflate; server_no_context_takeover; client_no_context_takeover", true, true},
		{"permessage-deflate;server_no_context_takeover;client_max_window_bits=15", true, true},
		{"permessage-deflate; client_no_context_takeover", true, false},
		{"x-webkit-deflate-frame", true, false},
		{"permessage-deflate; server_no_context_takeover, permessage-deflate", true, false},
		{"permessage-deflate; server_no_context_takeover; foo", true, false},
	} {
		err := checkExtensions(c.ext, c.deflate)
		if (err == nil) != c.ok {
			t.Errorf("checkExtensions(%q, %v) = %v, want ok=%v", c.ext, c.deflate, err, c.ok)
		}
	}
}

func TestParseFrameWholeAndPartial(t *testing.T) {
	mask := &[4]byte{7, 8, 9, 10}
	for _, n := range []int{0, 5, 125, 126, 300, 0xFFFF, 0x10000} {
		p := bytes.Repeat([]byte{'y'}, n)
		f := AppendFrame(nil, OpBinary, p, mask)
		f = append(f, 0x89, 0x00) // a ping after it
		frameLen := len(f) - 2
		// Every strict prefix of the first frame is "not yet".
		for _, cut := range []int{0, 1, 2, 3, 5, 9, frameLen - 1} {
			if cut < 0 || cut >= frameLen {
				continue
			}
			buf := append([]byte(nil), f[:cut]...)
			if _, _, m, err := ParseFrame(buf, 1<<20); m != 0 || err != nil {
				t.Fatalf("n=%d cut=%d: consumed %d err %v", n, cut, m, err)
			}
		}
		buf := append([]byte(nil), f...)
		h, got, m, err := ParseFrame(buf, 1<<20)
		if err != nil || m != frameLen || h.Op != OpBinary || !h.Fin || !bytes.Equal(got, p) {
			t.Fatalf("n=%d: consumed %d of %d, op %d, err %v", n, m, frameLen, h.Op, err)
		}
		h, _, m2, err := ParseFrame(buf[m:], 1<<20)
		if err != nil || m2 != 2 || h.Op != OpPing {
			t.Fatalf("n=%d: second frame %+v %d %v", n, h, m2, err)
		}
	}
}

func TestParseFrameRejects(t *testing.T) {
	for _, b := range [][]byte{
		{0xC1, 0x00},         // RSV1
		{0x09, 0x00},         // ping without FIN
		{0x89, 0x7E, 0, 200}, // control frame over 125
		AppendFrame(nil, OpText, make([]byte, 200), nil), // over the limit below
	} {
		if _, _, _, err := ParseFrame(b, 100); err == nil {
			t.Fatalf("% x accepted", b[:2])
		}
	}
}
