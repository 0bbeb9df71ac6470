package eio_test

import (
	"io"
	"testing"

	"github.com/allspark/allspark/internal/transport"
)

// BenchmarkWebSocketWrite writes a 16-message batch of shared payloads on
// an Engine.IO WebSocket session: the session's WriteBatch goes through
// WriteBatchPrefixed, the "4" riding in each frame's header buffer. A
// client goroutine discards what arrives.
func BenchmarkWebSocketWrite(b *testing.B) {
	e := newEnv(b, fast())
	ws := e.mustWS("EIO=4&transport=websocket")
	ws.recv() // the open packet
	h := e.acc.next(b)
	go func() { _, _ = io.Copy(io.Discard, ws.conn) }()
	payload := []byte(`{"room":"lobby","text":"hello, world, this is a chat line"}`)
	batch := make([]transport.Message, 16)
	for i := range batch {
		batch[i] = transport.Message{Payload: payload, Shared: &transport.Shared{}}
	}
	b.SetBytes(int64(len(batch) * len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if n, _, err := h.sess.WriteBatch(batch); err != nil || n != len(batch) {
			b.Fatal(n, err)
		}
	}
}
