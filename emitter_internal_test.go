package allspark

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/emitter"
	"github.com/allspark/allspark/internal/events"
	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/parser"
)

// keepConn records the payload slices it is given, not copies, so a test
// can tell whether receivers were handed one shared frame.
type keepConn struct {
	nullConn
	mu  sync.Mutex
	got [][]byte
}

func (c *keepConn) WriteBatch(msgs []transport.Message) (n, bytes int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		c.got = append(c.got, m.Payload)
		bytes += len(m.Payload)
	}
	return len(msgs), bytes, nil
}

func (c *keepConn) frames() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.got...)
}

// emitterTestServer returns a server with a no-op "hi" handler and an
// attach function for fake sessions; every spark attached is closed (as
// its transport would) before the server shuts down.
func emitterTestServer(t *testing.T, opts Options) (*Server, func(transport.Session) *Spark) {
	t.Helper()
	opts.PingInterval = NoPing
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var sparks []*Spark
	t.Cleanup(func() {
		for _, sp := range sparks {
			sp.OnClose(nil)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx, ShutdownOptions{}); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	if err := srv.On("hi", func(context.Context, *Event) (any, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest(http.MethodGet, "/primus", nil)
	r.RemoteAddr = "127.0.0.1:1"
	return srv, func(c transport.Session) *Spark {
		sp := srv.attach(c, r)
		sparks = append(sparks, sp)
		return sp
	}
}

// framesEventually waits until c holds n frames.
func framesEventually(t *testing.T, c *keepConn, n int) [][]byte {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(c.frames()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %q, want %d frames", c.frames(), n)
		}
		time.Sleep(time.Millisecond)
	}
	return c.frames()
}

// TestEmitterBroadcastFramedOnce: a room write reaching emitter and
// envelope sparks encodes once and frames once for every emitter
// receiver (they share the frame's bytes); envelope receivers get the
// encoding itself. When the emitter sparks end, broadcasts carry no frame
// cache any more.
func TestEmitterBroadcastFramedOnce(t *testing.T) {
	srv, attach := emitterTestServer(t, Options{})
	var em, env []*keepConn
	var sparks, emSparks []*Spark
	for range 10 {
		c := &keepConn{}
		sp := attach(c)
		sp.OnMessage(false, []byte(`{"type":0,"data":["hi"]}`))
		em, sparks, emSparks = append(em, c), append(sparks, sp), append(emSparks, sp)
		e := &keepConn{}
		env, sparks = append(env, e), append(sparks, attach(e))
	}
	if got := srv.reframing.Load(); got != 10 {
		t.Fatalf("reframing = %d, want the 10 emitter sparks", got)
	}
	for _, sp := range sparks {
		if err := sp.Join("lobby"); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := srv.Room("lobby").Emit("news", "x"); err != nil || n != 20 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	waitIdle(sparks)
	var first []byte
	for i, c := range em {
		f := c.frames()
		if len(f) != 1 || string(f[0]) != `{"type":0,"data":["news","x"]}` {
			t.Fatalf("emitter receiver %d got %q", i, f)
		}
		if first == nil {
			first = f[0]
		} else if &f[0][0] != &first[0] {
			t.Fatalf("emitter receiver %d got its own frame, not the shared one", i)
		}
	}
	for i, c := range env {
		if f := c.frames(); len(f) != 1 || string(f[0]) != `{"allspark":1,"event":"news","args":["x"]}` {
			t.Fatalf("envelope receiver %d got %q", i, f)
		}
	}
	for _, sp := range emSparks {
		sp.OnClose(nil)
	}
	if got := srv.reframing.Load(); got != 0 {
		t.Fatalf("reframing = %d after the emitter sparks ended", got)
	}
	var fo fanout
	fo.init(srv, frame{})
	if fo.f.Shared != nil {
		t.Fatal("a frame cache is still made with no emitter spark left")
	}
}

// TestEmitterSwitchBackKeepsCount: speaking envelopes again does not
// count the spark twice, nor leave it counted after it ends; a spark that
// ended before it spoke is never counted.
func TestEmitterSwitchBackKeepsCount(t *testing.T) {
	srv, attach := emitterTestServer(t, Options{})
	sp := attach(&keepConn{})
	for _, msg := range []string{`{"type":0,"data":["hi"]}`, `{"allspark":1,"event":"hi"}`, `{"type":0,"data":["hi"]}`} {
		sp.OnMessage(false, []byte(msg))
	}
	if got := srv.reframing.Load(); got != 1 || !sp.emitter.Load() {
		t.Fatalf("reframing %d emitter %v", got, sp.emitter.Load())
	}
	sp.OnClose(nil)
	late := attach(&keepConn{})
	late.OnClose(nil)
	late.speak(true)
	if got := srv.reframing.Load(); got != 0 || late.emitSess.Load() != nil {
		t.Fatalf("reframing %d after every spark ended", got)
	}
}

// TestEmitterOnlyForPrimusSparks: Default mode makes Primus sparks speak
// the dialect; a spark whose session re-frames (Socket.IO, SSE) never
// does, whatever it sends.
func TestEmitterOnlyForPrimusSparks(t *testing.T) {
	_, attach := emitterTestServer(t, Options{Emitter: EmitterOptions{Default: true}})
	plain := attach(&keepConn{})
	if !plain.emitter.Load() {
		t.Fatal("Default: a Primus spark does not speak the dialect")
	}
	// An identity protocol with a name of its own (SockJS's Primus path)
	// carries Primus framing: the dialect applies.
	sockjs := attach(&framingConn{proto: &transport.Protocol{Name: "sockjs-primus"}})
	if !sockjs.emitterOK || !sockjs.emitter.Load() {
		t.Fatal("an identity session with a protocol name was not given the dialect")
	}
	wrapped := attach(&framingConn{proto: newEmitterProtocol(parser.JSON{})})
	wrapped.OnValue(map[string]any{"type": 0.0, "data": []any{"hi"}}, 10)
	if wrapped.emitterOK || wrapped.emitter.Load() {
		t.Fatal("a re-framing session was given the dialect")
	}
}

// TestEmitterPlainDataCostsNothingMore: for a spark that never speaks the
// dialect, plain data takes no more allocations with the dialect enabled
// than with it disabled (the packet check is a map lookup).
func TestEmitterPlainDataCostsNothingMore(t *testing.T) {
	payload := []byte(`{"room":"lobby","text":"hello everyone","n":42}`)
	allocs := func(opts Options) float64 {
		_, attach := emitterTestServer(t, opts)
		sp := attach(&nullConn{})
		sp.OnData(func(any) {})
		return testing.AllocsPerRun(200, func() { sp.OnMessage(false, payload) })
	}
	on, off := allocs(Options{}), allocs(Options{Emitter: EmitterOptions{Disabled: true}})
	if on != off {
		t.Fatalf("%v allocations per message with the dialect on, %v with it off", on, off)
	}
}

// TestEmitterMsgPack: with the MessagePack parser the packets are
// MessagePack maps in binary frames, both ways.
func TestEmitterMsgPack(t *testing.T) {
	srv, attach := emitterTestServer(t, Options{Parser: parser.MsgPack{}})
	if err := srv.On("add", func(_ context.Context, ev *Event) (any, error) {
		var a, b int
		if err := ev.Decode(0, &a); err != nil {
			return nil, err
		}
		if err := ev.Decode(1, &b); err != nil {
			return nil, err
		}
		return a + b, nil
	}); err != nil {
		t.Fatal(err)
	}
	c := &keepConn{}
	sp := attach(c)
	in, _, err := parser.MsgPack{}.Encode(map[string]any{"type": 0, "data": []any{"add", 2, 3}, "id": 4})
	if err != nil {
		t.Fatal(err)
	}
	sp.OnMessage(true, in)
	v, err := parser.MsgPack{}.Decode(framesEventually(t, c, 1)[0], true)
	if err != nil {
		t.Fatal(err)
	}
	env, ok := emitter.Parse(v)
	if !ok || env.Kind != events.Ack || env.ID != 4 || len(env.Args) != 1 {
		t.Fatalf("%v → %+v %v", v, env, ok)
	}
	if n, _ := events.Integer(env.Args[0]); n != 5 {
		t.Fatalf("ack %v", env.Args)
	}
}

// BenchmarkEmitBroadcast is a room Emit to 10,000 sparks, all speaking
// envelopes or all speaking primus-emitter: the emitter frame is made once
// per write (by the first receiver's writer), so the per-member cost and
// allocations match the envelope case.
func BenchmarkEmitBroadcast(b *testing.B) {
	for _, dialect := range []string{"envelope", "emitter"} {
		b.Run(dialect, func(b *testing.B) {
			const members = 10000
			srv, err := New(Options{PingInterval: NoPing, QueueSize: 1 << 20})
			if err != nil {
				b.Fatal(err)
			}
			r, _ := http.NewRequest(http.MethodGet, "/primus", nil)
			r.RemoteAddr = "127.0.0.1:1"
			sparks := make([]*Spark, members)
			for i := range sparks {
				sparks[i] = srv.attach(&nullConn{}, r)
				if dialect == "emitter" {
					sparks[i].speak(true)
				}
				if err := sparks[i].Join("lobby"); err != nil {
					b.Fatal(err)
				}
			}
			target := srv.Room("lobby")
			msg := map[string]any{"text": "hello everyone"}
			for range 20 {
				_, _ = target.Emit("news", msg)
			}
			waitIdle(sparks)
			var mallocs uint64
			var before, after runtime.MemStats
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				waitIdle(sparks)
				runtime.ReadMemStats(&before)
				b.StartTimer()
				if n, err := target.Emit("news", msg); err != nil || n != members {
					b.Fatalf("n=%d err=%v", n, err)
				}
				b.StopTimer()
				waitIdle(sparks)
				runtime.ReadMemStats(&after)
				mallocs += after.Mallocs - before.Mallocs
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*members), "ns/member")
			b.ReportMetric(float64(mallocs)/float64(b.N), "allocs/write")
			for _, sp := range sparks {
				sp.OnClose(nil)
			}
			_ = srv.Shutdown(b.Context(), ShutdownOptions{})
		})
	}
}
