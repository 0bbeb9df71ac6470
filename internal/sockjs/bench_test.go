package sockjs_test

import (
	"testing"

	"github.com/allspark/allspark/internal/sockjs"
	"github.com/allspark/allspark/internal/transport"
)

// A typical chat message, as the JSON parser encodes it.
var benchPayload = []byte(`{"room":"lobby","name":"ada","text":"hello everyone, the deploy is done \u2014 thanks!"}`)

// BenchmarkQuotePrimus is the per-receiver framing cost of a message on the
// Primus path (identity protocol: every receiver quotes the encoding into
// its "a" frame).
func BenchmarkQuotePrimus(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPayload)))
	for range b.N {
		buf = sockjs.AppendQuote(buf[:0], benchPayload)
	}
}

// BenchmarkFramePlainShared is the same cost on the plain path: the frame
// is made once per broadcast (transport.Shared) and each receiver copies
// the cached bytes.
func BenchmarkFramePlainShared(b *testing.B) {
	e := newEnv(b, fast())
	h := e.open("bench")
	p := h.sess.(transport.Framer).Protocol()
	m := transport.Message{Payload: benchPayload, Shared: new(transport.Shared)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPayload)))
	b.ResetTimer()
	for range b.N {
		f, _ := m.FrameFor(p)
		buf = append(buf[:0], f...)
	}
}

// BenchmarkDecodeArray is the cost of an xhr_send body of ten messages as
// sockjs-client sends them (Primus frames, so every string has escapes).
func BenchmarkDecodeArray(b *testing.B) {
	body := []byte(`[` + repeatJoin(string(sockjs.AppendQuote(nil, benchPayload)), 10) + `]`)
	var d sockjs.Decoder
	fn := func([]byte, bool) error { return nil }
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for range b.N {
		_ = d.DecodeArray(body, fn)
	}
}

func repeatJoin(s string, n int) string {
	out := s
	for range n - 1 {
		out += "," + s
	}
	return out
}
