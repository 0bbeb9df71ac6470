package allspark

import (
	"github.com/allspark/allspark/internal/transport/websocket"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark/parser"
)

// fakeConn is a websocket.Conn that records what is written.
type fakeConn struct {
	mu     sync.Mutex
	writes [][]byte
	closed bool
}

func (c *fakeConn) WriteMessage(binary bool, p []byte) error {
	c.mu.Lock()
	c.writes = append(c.writes, append([]byte(nil), p...))
	c.mu.Unlock()
	return nil
}
func (c *fakeConn) WriteBatch(msgs []websocket.Message) (n, bytes int, err error) {
	for _, m := range msgs {
		_ = c.WriteMessage(m.Binary, m.Payload)
		bytes += len(m.Payload)
	}
	return len(msgs), bytes, nil
}
func (c *fakeConn) Close(uint16, string) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}
func (c *fakeConn) Abort() error                     { return c.Close(0, "") }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }
func (c *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// nullConn is a websocket.Conn that discards writes without recording them.
type nullConn struct{ fakeConn }

func (c *nullConn) WriteMessage(bool, []byte) error { return nil }
func (c *nullConn) WriteBatch(msgs []websocket.Message) (n, bytes int, err error) {
	for _, m := range msgs {
		bytes += len(m.Payload)
	}
	return len(msgs), bytes, nil
}

func newFakeSpark(tb testing.TB, opts Options) (*Server, *Spark, *fakeConn) {
	tb.Helper()
	srv, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	conn := &fakeConn{}
	r, _ := http.NewRequest(http.MethodGet, "/primus?x=1", nil)
	r.RemoteAddr = "127.0.0.1:1"
	sp := srv.attach(conn, r)
	return srv, sp, conn
}

// FuzzIncomingMessage drives the whole per-message path (decode, protocol,
// transforms, delivery, echo) with arbitrary frames, for both parsers: it
// must never panic, and whatever it writes back must decode.
func FuzzIncomingMessage(f *testing.F) {
	for _, s := range []string{`"primus::id::"`, `"primus::pong::1"`, `{"a":1}`, `[`, "\x93\x01\x02\x03", "\xdd\xff\xff\xff\xff", `"primus::ping::x"`,
		`{"type":0,"data":["x",1],"id":2}`, `{"type":1,"id":1,"data":[]}`, `{"type":0,"data":["open"]}`} {
		f.Add([]byte(s), false, false)
		f.Add([]byte(s), true, true)
	}
	f.Fuzz(func(t *testing.T, payload []byte, binary, msgpack bool) {
		opts := Options{PingInterval: NoPing}
		var p parser.Parser = parser.JSON{}
		if msgpack {
			p = parser.MsgPack{}
			opts.Parser = p
		}
		srv, sp, conn := newFakeSpark(t, opts)
		sp.OnData(func(d any) { _ = sp.Write(d) })
		sp.OnError(func(error) {})
		sp.OnMessage(binary, payload)
		sp.End(nil, true)
		sp.OnClose(nil) // what the engine does when the socket is gone
		if err := srv.Shutdown(t.Context(), ShutdownOptions{}); err != nil {
			t.Fatal(err)
		}
		conn.mu.Lock()
		defer conn.mu.Unlock()
		for _, w := range conn.writes {
			if _, err := p.Decode(w, msgpack); err != nil && !binary {
				t.Fatalf("server wrote undecodable %q for input %q", w, payload)
			}
		}
	})
}
