package allspark

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/allspark/allspark/internal/transport"
)

// framingConn is a session on a re-framing protocol: it writes each
// message as FrameFor gives it and records the frames' first bytes' address,
// so a test can tell whether receivers shared one frame.
type framingConn struct {
	nullConn
	proto *transport.Protocol
	mu    sync.Mutex
	got   [][]byte
}

func (c *framingConn) Protocol() *transport.Protocol { return c.proto }

func (c *framingConn) WriteBatch(msgs []transport.Message) (n, bytes int, err error) {
	for i := range msgs {
		f, _ := msgs[i].FrameFor(c.proto)
		c.mu.Lock()
		c.got = append(c.got, f)
		c.mu.Unlock()
		bytes += len(f)
	}
	return len(msgs), bytes, nil
}

func (c *framingConn) frames() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.got...)
}

// TestBroadcastIsFramedOncePerProtocol: a room write reaching sparks on the
// identity protocol and on a wrapping one encodes once, frames once for the
// wrapping protocol, and every receiver on it gets the same bytes; the
// identity receivers get the encoding itself.
func TestBroadcastIsFramedOncePerProtocol(t *testing.T) {
	srv, err := New(Options{PingInterval: NoPing})
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	proto := &transport.Protocol{Name: "wrap", Slot: 1, Frame: func(m *transport.Message) ([]byte, bool) {
		calls.Add(1)
		return append([]byte("W"), m.Payload...), m.Binary
	}}
	r, _ := http.NewRequest(http.MethodGet, "/primus", nil)
	r.RemoteAddr = "127.0.0.1:1"
	var wrapped []*framingConn
	var plain []*fakeConn
	var sparks []*Spark
	for range 20 {
		c := &framingConn{proto: proto}
		wrapped = append(wrapped, c)
		sparks = append(sparks, srv.attach(c, r))
		p := &fakeConn{}
		plain = append(plain, p)
		sparks = append(sparks, srv.attach(p, r))
	}
	for _, sp := range sparks {
		if err := sp.Join("lobby"); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := srv.Room("lobby").Write("hello"); err != nil || n != len(sparks) {
		t.Fatalf("n=%d err=%v", n, err)
	}
	waitIdle(sparks)
	if calls.Load() != 1 {
		t.Fatalf("framed %d times for %d receivers on the wrapping protocol, want once", calls.Load(), len(wrapped))
	}
	first := wrapped[0].frames()
	for i, c := range wrapped {
		got := c.frames()
		if len(got) != 1 || string(got[0]) != `W"hello"` || &got[0][0] != &first[0][0] {
			t.Fatalf("wrapping receiver %d got %q, not the shared frame", i, got)
		}
	}
	for i, c := range plain {
		c.mu.Lock()
		w := c.writes
		c.mu.Unlock()
		if len(w) != 1 || string(w[0]) != `"hello"` {
			t.Fatalf("identity receiver %d got %q", i, w)
		}
	}
	for _, sp := range sparks {
		sp.OnClose(nil)
	}
	if n := srv.reframing.Load(); n != 0 {
		t.Fatalf("reframing count %d after every spark ended, want 0", n)
	}
	_ = srv.Shutdown(t.Context(), ShutdownOptions{})
}

// TestIdentityOnlyBroadcastCarriesNoCache: with no re-framing receiver a
// broadcast allocates no frame cache.
func TestIdentityOnlyBroadcastCarriesNoCache(t *testing.T) {
	srv, err := New(Options{PingInterval: NoPing})
	if err != nil {
		t.Fatal(err)
	}
	var fo fanout
	fo.init(srv, frame{Payload: []byte("1")})
	if fo.f.Shared != nil {
		t.Fatal("identity-only server gave a broadcast a frame cache")
	}
	_ = srv.Shutdown(t.Context(), ShutdownOptions{})
}
