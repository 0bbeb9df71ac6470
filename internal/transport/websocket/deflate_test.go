package websocket

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
)

// Only offers we can honour are accepted: a server window under 15 bits is
// one compress/flate cannot keep to.
func TestAcceptsDeflate(t *testing.T) {
	for _, tc := range []struct {
		offer string
		want  bool
	}{
		{"permessage-deflate", true},
		{"permessage-deflate; client_max_window_bits", true},
		{"x-webkit-deflate-frame", false},
		{"permessage-deflate; server_max_window_bits=10", false},
		{"permessage-deflate; server_max_window_bits=10, permessage-deflate", true},
		{"permessage-deflate; server_max_window_bits=15", true},
		{"", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.offer != "" {
			r.Header.Set("Sec-WebSocket-Extensions", tc.offer)
		}
		if got := acceptsDeflate(r); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.offer, got, tc.want)
		}
	}
}

// A compressed message inflates back, and one that inflates past the limit
// fails with ErrTooLarge without being inflated whole.
func TestDeflateRoundTrip(t *testing.T) {
	msg := strings.Repeat("hello deflate ", 200)
	d := deflaters.Get().(*deflater)
	d.fw.Reset(&d.buf)
	_, _ = d.fw.Write([]byte(msg))
	_ = d.fw.Flush()
	comp := append([]byte(nil), d.buf.Bytes()[:d.buf.Len()-4]...)
	d.buf.Reset()
	deflaters.Put(d)
	out, err := inflateMessage(comp, len(msg))
	if err != nil || string(out) != msg {
		t.Fatalf("inflate: %v, %d bytes", err, len(out))
	}
	if _, err := inflateMessage(comp, len(msg)-1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v, want ErrTooLarge", err)
	}
}
