package sse_test

import (
	"io"
	"net"
	"testing"

	"github.com/allspark/allspark/internal/sse"
	"github.com/allspark/allspark/internal/transport"
)

// BenchmarkStreamWrite is a stream's cost per message of a broadcast: the
// frame is shared (made once, outside the loop), each write adds the
// stream's id line and goes out in one writev on the hijacked connection
// (and a flush through net/http on the ResponseWriter), to a client that
// reads everything.
func BenchmarkStreamWrite(b *testing.B) {
	for _, m := range []mode{hijacked, responseWriter} {
		b.Run(string(m), func(b *testing.B) {
			e := newEnvMode(b, sse.Config{Retry: -1, Heartbeat: -1}, m)
			c, err := net.Dial("tcp", e.hs.Listener.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				b.Fatal(err)
			}
			go func() { _, _ = io.Copy(io.Discard, c) }()
			h := e.acc.next(b)
			msg := transport.Message{Payload: []byte(`{"room":"lobby","text":"` + string(make([]byte, 64)) + `"}`), Shared: new(transport.Shared)}
			batch := []transport.Message{msg}
			h.write(b, msg) // frames the shared message
			b.ReportAllocs()
			b.SetBytes(int64(len(msg.Payload)))
			b.ResetTimer()
			for range b.N {
				if _, _, err := h.sess.WriteBatch(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			_ = h.sess.Abort()
			h.waitClosed(b, 5e9)
		})
	}
}
