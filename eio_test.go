package allspark_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// eioClient is a raw Engine.IO polling client of one session at /primus.
type eioClient struct {
	t    testing.TB
	base string
	sid  string
	// got holds the messages ("4" packets' data) and control packets
	// ("1", "2", …) received, in order.
	got []string
}

func eioOpen(t testing.TB, base string) *eioClient {
	t.Helper()
	c := &eioClient{t: t, base: base}
	st, body := c.do("GET", "")
	if st != 200 || !strings.HasPrefix(body, "0{") {
		t.Fatalf("handshake: %d %q", st, body)
	}
	var o struct{ SID string }
	if err := json.Unmarshal([]byte(body[1:]), &o); err != nil {
		t.Fatal(err)
	}
	c.sid = o.SID
	return c
}

func (c *eioClient) do(method, body string) (int, string) {
	c.t.Helper()
	u := c.base + "/primus/?EIO=4&transport=polling"
	if c.sid != "" {
		u += "&sid=" + c.sid
	}
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	if method == "POST" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s: %v", method, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// poll polls once, answering Engine.IO pings, and appends what came.
func (c *eioClient) poll() {
	c.t.Helper()
	st, body := c.do("GET", "")
	if st != 200 {
		c.t.Fatalf("poll: %d %q", st, body)
	}
	for _, p := range strings.Split(body, "\x1e") {
		switch {
		case strings.HasPrefix(p, "4"):
			c.got = append(c.got, p[1:])
		case p == "2":
			c.send("3")
		case p == "6":
		default:
			c.got = append(c.got, p)
		}
	}
}

func (c *eioClient) send(payload string) {
	c.t.Helper()
	if st, body := c.do("POST", payload); st != 200 || body != "ok" {
		c.t.Fatalf("POST %q: %d %q", payload, st, body)
	}
}

// until polls until a received item satisfies match and returns it;
// earlier items are skipped.
func (c *eioClient) until(match func(string) bool) string {
	c.t.Helper()
	deadline := time.Now().Add(waitLong)
	for time.Now().Before(deadline) {
		for len(c.got) > 0 {
			m := c.got[0]
			c.got = c.got[1:]
			if match(m) {
				return m
			}
		}
		c.poll()
	}
	c.t.Fatal("nothing matching arrived")
	return ""
}

func equals(s string) func(string) bool { return func(m string) bool { return m == s } }

func TestEngineIOSpark(t *testing.T) {
	sparks := make(chan *allspark.Spark, 1)
	data := make(chan any, 10)
	srv, base := startServer(t, allspark.Options{}, func(srv *allspark.Server) {
		srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
			s.OnData(func(d any) { data <- d })
			_ = s.Join("lobby")
			sparks <- s
			return nil
		})
	})
	c := eioOpen(t, base)
	var sp *allspark.Spark
	select {
	case sp = <-sparks:
	case <-time.After(waitLong):
		t.Fatal("no spark")
	}

	if _, err := srv.Broadcast("to all"); err != nil {
		t.Fatal(err)
	}
	c.until(equals(`"to all"`))
	if _, err := srv.Room("lobby").Write("to lobby"); err != nil {
		t.Fatal(err)
	}
	c.until(equals(`"to lobby"`))

	c.send(`4"up"`)
	select {
	case d := <-data:
		if d != "up" {
			t.Errorf("OnData(%v)", d)
		}
	case <-time.After(waitLong):
		t.Fatal("no data")
	}

	type result struct {
		r   *allspark.Reply
		err error
	}
	ack := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		r, err := sp.EmitWithAck(ctx, "question", 42)
		ack <- result{r, err}
	}()
	ev := c.until(func(m string) bool { return strings.Contains(m, `"event":"question"`) })
	var env struct {
		Event string `json:"event"`
		Args  []any  `json:"args"`
		ID    int    `json:"id"`
	}
	if err := json.Unmarshal([]byte(ev), &env); err != nil || env.ID <= 0 || len(env.Args) != 1 {
		t.Fatalf("event %q: %v", ev, err)
	}
	c.send(`4{"allspark":1,"ack":` + jsonInt(env.ID) + `,"args":["answer"]}`)
	res := <-ack
	if res.err != nil || len(res.r.Args) != 1 || res.r.Args[0] != "answer" {
		t.Errorf("EmitWithAck: %+v %v", res.r, res.err)
	}

	ended := make(chan struct{})
	sp.OnEnd(func() { close(ended) })
	go sp.End(nil, false)
	c.until(equals(`"primus::server::close"`))
	c.until(equals("1"))
	select {
	case <-ended:
	case <-time.After(waitLong):
		t.Fatal("spark not ended")
	}
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

// The Primus heartbeat rides inside Engine.IO message packets.
func TestEngineIOPrimusHeartbeat(t *testing.T) {
	_, base := startServer(t, allspark.Options{PingInterval: 100 * time.Millisecond}, nil)
	c := eioOpen(t, base)
	ping := c.until(func(m string) bool { return strings.HasPrefix(m, `"primus::ping::`) })
	c.send(`4"primus::pong::` + strings.TrimSuffix(strings.TrimPrefix(ping, `"primus::ping::`), `"`) + `"`)
}

// A polling client that stops polling fills its queue and is ended under
// SlowConsumerClose.
func TestEngineIOSlowPoller(t *testing.T) {
	sparks := make(chan *allspark.Spark, 1)
	_, base := startServer(t, allspark.Options{QueueSize: 4, SlowConsumer: allspark.SlowConsumerClose, WriteTimeout: 200 * time.Millisecond},
		func(srv *allspark.Server) {
			srv.OnConnection(func(_ context.Context, s *allspark.Spark) error { sparks <- s; return nil })
		})
	eioOpen(t, base)
	sp := <-sparks
	ended := make(chan struct{})
	sp.OnEnd(func() { close(ended) })
	for i := 0; i < 100; i++ {
		if sp.Write(i) != nil {
			break
		}
	}
	select {
	case <-ended:
	case <-time.After(waitLong):
		t.Fatal("slow poller not ended")
	}
}
