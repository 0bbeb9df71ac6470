package allspark

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/transport/websocket"
	"github.com/allspark/allspark/parser"
)

// A Primus pong is answered without decoding it under the JSON parser: the
// spark counts as alive, the application sees nothing, and it costs no
// allocation (an idle server's heartbeats make no garbage on the read
// side). An escaped pong takes the decoder and counts the same.
func TestPongAnsweredWithoutDecoding(t *testing.T) {
	srv, sp, _ := newFakeSpark(t, Options{PingInterval: NoPing})
	defer func() { sp.OnClose(nil); _ = srv.Shutdown(t.Context(), ShutdownOptions{}) }()
	var data []any
	sp.OnData(func(v any) { data = append(data, v) })
	for _, pong := range []string{`"primus::pong::1733230000000"`, `"primus::pong::\u0031"`} {
		sp.alive.Store(false)
		sp.OnMessage(false, []byte(pong))
		if !sp.alive.Load() {
			t.Errorf("%s: not alive after the pong", pong)
		}
	}
	payload := []byte(`"primus::pong::1733230000000"`)
	if n := testing.AllocsPerRun(100, func() { sp.OnMessage(false, payload) }); n != 0 {
		t.Errorf("a pong allocates %v times", n)
	}
	if len(data) != 0 {
		t.Fatalf("pongs delivered as data: %v", data)
	}
}

// Under another parser the same bytes are that parser's to decode: no
// shortcut is taken on a JSON-looking payload.
func TestPongShortcutIsJSONOnly(t *testing.T) {
	srv, sp, _ := newFakeSpark(t, Options{PingInterval: NoPing, Parser: textParser{}})
	defer func() { sp.OnClose(nil); _ = srv.Shutdown(t.Context(), ShutdownOptions{}) }()
	var data []any
	sp.OnData(func(v any) { data = append(data, v) })
	sp.OnMessage(false, []byte(`"primus::pong::1"`))
	if len(data) != 1 || data[0] != `"primus::pong::1"` {
		t.Fatalf("under a text parser the quoted pong is data: got %v", data)
	}
}

// textParser hands payloads on as strings, quotes and all.
type textParser struct{}

func (textParser) Name() string                         { return "text" }
func (textParser) Encode(v any) ([]byte, bool, error)   { return parser.JSON{}.Encode(v) }
func (textParser) Decode(p []byte, _ bool) (any, error) { return string(p), nil }
func (textParser) Unmarshal(p []byte, _ bool, dst any) error {
	return parser.JSON{}.Unmarshal(p, false, dst)
}

// pingClock is a session that records when each Primus ping is written to
// it, and answers it at once.
type pingClock struct {
	nullConn
	sp    *Spark
	mu    sync.Mutex
	pings []time.Time
}

func (c *pingClock) WriteBatch(msgs []websocket.Message) (n, bytes int, err error) {
	for _, m := range msgs {
		if strings.HasPrefix(string(m.Payload), `"primus::ping::`) {
			c.mu.Lock()
			c.pings = append(c.pings, time.Now())
			sp := c.sp
			c.mu.Unlock()
			if sp != nil {
				sp.OnMessage(false, []byte(`"primus::pong::1"`))
			}
		}
		bytes += len(m.Payload)
	}
	return len(msgs), bytes, nil
}

// The heartbeat pings its sparks slot by slot across the interval, not all
// at once (a burst of writer goroutines the runtime would keep); a spark's
// first ping comes between half an interval and one after it connected,
// the next ones once per PingInterval.
func TestHeartbeatSpreadsPings(t *testing.T) {
	const interval = 640 * time.Millisecond // 32 slots, 20 ms apart
	srv, err := New(Options{PingInterval: interval})
	if err != nil {
		t.Fatal(err)
	}
	clocks := make([]*pingClock, 64)
	defer func() {
		for _, c := range clocks {
			if c != nil && c.sp != nil {
				c.sp.OnClose(nil)
			}
		}
		_ = srv.Shutdown(t.Context(), ShutdownOptions{})
	}()
	for i := range clocks {
		clocks[i] = &pingClock{}
		r, _ := http.NewRequest(http.MethodGet, "/primus", nil)
		r.RemoteAddr = "127.0.0.1:1"
		sp := srv.attach(clocks[i], r)
		clocks[i].mu.Lock()
		clocks[i].sp = sp
		clocks[i].mu.Unlock()
		srv.started(sp)
	}
	start := time.Now()
	time.Sleep(interval*2 + interval/4)
	var first []time.Time
	for i, c := range clocks {
		c.mu.Lock()
		pings := append([]time.Time(nil), c.pings...)
		c.mu.Unlock()
		if len(pings) < 2 || len(pings) > 3 {
			t.Fatalf("spark %d pinged %d times in 2.25 intervals of %v", i, len(pings), interval)
		}
		if d := pings[0].Sub(start); d < interval/2-interval/16 || d > interval+interval/8 {
			t.Errorf("spark %d first pinged after %v, want between half an interval and one", i, d)
		}
		for j := 1; j < len(pings); j++ {
			if gap := pings[j].Sub(pings[j-1]); gap < interval*3/4 || gap > interval*5/4 {
				t.Errorf("spark %d: pings %v apart, want about %v", i, gap, interval)
			}
		}
		first = append(first, pings[0])
	}
	earliest, latest := first[0], first[0]
	for _, f := range first {
		if f.Before(earliest) {
			earliest = f
		}
		if f.After(latest) {
			latest = f
		}
	}
	if spread := latest.Sub(earliest); spread < interval/4 {
		t.Fatalf("the first pings of 64 sparks span %v: not spread over the %v interval", spread, interval)
	}
	if n := srv.Len(); n != len(clocks) {
		t.Fatalf("%d of %d answering sparks left", n, len(clocks))
	}
}
