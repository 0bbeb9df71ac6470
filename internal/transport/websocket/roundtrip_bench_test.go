package websocket

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// echoHandler writes every message back from the reader's goroutine.
type echoHandler struct {
	conn Conn
}

func (h *echoHandler) OnMessage(binary bool, p []byte) { _ = h.conn.WriteMessage(binary, p) }
func (h *echoHandler) OnPing()                         {}
func (h *echoHandler) OnPeerClose()                    {}
func (h *echoHandler) OnClose(error)                   {}

// BenchmarkRoundTrip measures the read path: one op is a 32-byte message
// from a client to the server's OnMessage and its echo back, with conns
// clients taking turns at once. The poller engine pays a readiness event
// and a reader per message where gws's reader is already waiting; this is
// the figure that shows it.
func BenchmarkRoundTrip(b *testing.B) {
	for _, e := range engines {
		for _, conns := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/conns=%d", e.name, conns), func(b *testing.B) {
				eng := e.new(Config{})
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					h := &echoHandler{}
					_ = eng.Upgrade(w, r, func(c Conn) Handler { h.conn = c; return h })
				}))
				defer srv.Close()
				addr := srv.Listener.Addr().String()
				clients := make([]*rawClient, conns)
				for i := range clients {
					clients[i] = dialRaw(b, addr, "", nil)
				}
				frame := clientFrame(true, 0x1, make([]byte, 32))
				var next sync.WaitGroup
				per := b.N / conns
				b.ResetTimer()
				for i, c := range clients {
					n := per
					if i == 0 {
						n += b.N % conns
					}
					next.Go(func() {
						for range n {
							if _, err := c.Write(frame); err != nil {
								b.Error(err)
								return
							}
							if _, _, err := c.readFrame(); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				next.Wait()
				b.StopTimer()
				for _, c := range clients {
					c.Close()
				}
			})
		}
	}
}
