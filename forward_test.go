package allspark_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// alternatingProxy is a load balancer without sticky sessions: every
// request goes to the next backend in turn.
func alternatingProxy(t testing.TB, bases ...string) string {
	t.Helper()
	var next atomic.Uint64
	targets := make([]*url.URL, len(bases))
	for i, b := range bases {
		u, err := url.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		targets[i] = u
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(targets[(next.Add(1)-1)%uint64(len(targets))])
			pr.Out.Host = pr.In.Host
		},
		FlushInterval: -1,
	}
	hs := httptest.NewServer(rp)
	t.Cleanup(hs.Close)
	return hs.URL
}

type fwdCluster struct {
	srvs  []*allspark.Server
	bases []string
	proxy string
}

// startForwardCluster starts n echo servers named a, b, … on broker and
// an alternating proxy in front of them.
func startForwardCluster(t testing.TB, broker allspark.Broker, n int, opts allspark.Options, setup func(*allspark.Server)) *fwdCluster {
	t.Helper()
	fc := &fwdCluster{}
	for i := range n {
		o := opts
		o.Broker, o.NodeID = broker, string(rune('a'+i))
		if o.Cluster == (allspark.ClusterOptions{}) {
			o.Cluster = fastCluster
		}
		srv, base := startServer(t, o, func(s *allspark.Server) {
			echo(s)
			if setup != nil {
				setup(s)
			}
		})
		fc.srvs = append(fc.srvs, srv)
		fc.bases = append(fc.bases, base)
	}
	waitFor(t, "membership", func() bool {
		for _, s := range fc.srvs {
			if len(s.Nodes()) != n {
				return false
			}
		}
		return true
	})
	fc.proxy = alternatingProxy(t, fc.bases...)
	return fc
}

func (fc *fwdCluster) forwarded() (out, served uint64) {
	for _, s := range fc.srvs {
		st := s.Stats()
		out += st.Forwarded
		served += st.ForwardServed
	}
	return out, served
}

var forwardBrokers = []struct {
	name   string
	broker func() allspark.Broker
}{
	{"memory broker", func() allspark.Broker { return allspark.NewMemoryBroker() }},
	{"heartbeats", func() allspark.Broker { return newHeartbeatBroker() }},
}

// An Engine.IO polling session behind a balancer without sticky sessions:
// every other GET and POST lands on the node that does not hold it and is
// forwarded; the session stays up, echoes come back, and writes from every
// node reach it.
func TestForwardEngineIOPolling(t *testing.T) {
	for _, tc := range forwardBrokers {
		t.Run(tc.name, func(t *testing.T) {
			fc := startForwardCluster(t, tc.broker(), 2, allspark.Options{}, nil)
			c := eioOpen(t, fc.proxy)
			if !strings.Contains(c.sid, ".") {
				t.Fatalf("sid %q names no node", c.sid)
			}
			for i := range 6 {
				c.send(fmt.Sprintf(`4"echo %d"`, i))
				c.until(equals(fmt.Sprintf(`"echo %d"`, i)))
			}
			for i, s := range fc.srvs {
				if _, err := s.Broadcast(fmt.Sprintf("from %d", i)); err != nil {
					t.Fatal(err)
				}
				c.until(equals(fmt.Sprintf(`"from %d"`, i)))
			}
			if out, served := fc.forwarded(); out < 6 || served < 6 {
				t.Fatalf("forwarded %d, served %d: the proxy did not alternate", out, served)
			}
			if n := fc.srvs[0].Len() + fc.srvs[1].Len(); n != 1 {
				t.Fatalf("%d sparks, want the one session", n)
			}
		})
	}
}

// Socket.IO's own Engine.IO server forwards too: a socket on polling
// connects, emits and receives acks and room writes through the
// alternating proxy.
func TestForwardSocketIOPolling(t *testing.T) {
	fc := startForwardCluster(t, allspark.NewMemoryBroker(), 2, allspark.Options{}, func(s *allspark.Server) {
		s.On("add", func(_ context.Context, ev *allspark.Event) (any, error) {
			var a, b int
			if err := ev.Decode(0, &a); err != nil {
				return nil, err
			}
			if err := ev.Decode(1, &b); err != nil {
				return nil, err
			}
			return a + b, nil
		})
	})
	base := fc.proxy + "/socket.io/?EIO=4&transport=polling"
	st, body, _ := sjDo(t, "GET", base, "", "", nil)
	if st != 200 || !strings.HasPrefix(body, "0{") {
		t.Fatalf("handshake %d %q", st, body)
	}
	var o struct{ SID string }
	_ = json.Unmarshal([]byte(body[1:]), &o)
	u := base + "&sid=" + url.QueryEscape(o.SID)
	post := func(p string) {
		t.Helper()
		if st, b, _ := sjDo(t, "POST", u, "text/plain;charset=UTF-8", p, nil); st != 200 || b != "ok" {
			t.Fatalf("POST %q: %d %q", p, st, b)
		}
	}
	var got []string
	until := func(prefix string) string {
		t.Helper()
		deadline := time.Now().Add(waitLong)
		for time.Now().Before(deadline) {
			for len(got) > 0 {
				p := got[0]
				got = got[1:]
				if strings.HasPrefix(p, prefix) {
					return p
				}
			}
			st, b, _ := sjDo(t, "GET", u, "", "", nil)
			if st != 200 {
				t.Fatalf("poll %d %q", st, b)
			}
			for _, p := range strings.Split(b, "\x1e") {
				if p == "2" {
					post("3")
					continue
				}
				got = append(got, p)
			}
		}
		t.Fatalf("no packet %q", prefix)
		return ""
	}
	post("40")
	until("40{")
	post(`421["add",2,3]`)
	if p := until("431"); p != "431[5]" {
		t.Fatalf("ack %q", p)
	}
	if _, err := fc.srvs[1].Broadcast("hello"); err != nil {
		t.Fatal(err)
	}
	until(`42["message","hello"]`)
	if out, _ := fc.forwarded(); out < 2 {
		t.Fatalf("forwarded %d", out)
	}
}

// SockJS sessions (ids the client makes) behind the alternating proxy, on
// the plain path and under the pathname: the node that does not hold the
// session finds its owner and forwards xhr, xhr_send, jsonp and jsonp_send;
// a streaming receiver that lands there gets one frame in its own
// envelope and ends.
func TestForwardSockJS(t *testing.T) {
	for _, tc := range forwardBrokers {
		t.Run(tc.name, func(t *testing.T) {
			fc := startForwardCluster(t, tc.broker(), 2, allspark.Options{}, nil)
			c := sjOpen(t, fc.proxy+"/sockjs", "plainsess")
			for i := range 4 {
				c.send(fmt.Sprintf(`["m%d"]`, i))
				if got := c.messages(1); got[0] != fmt.Sprintf("m%d", i) {
					t.Fatalf("echo %d: %q", i, got)
				}
			}
			for i, s := range fc.srvs {
				if _, err := s.Broadcast(fmt.Sprintf("b%d", i)); err != nil {
					t.Fatal(err)
				}
				if got := c.messages(1); got[0] != fmt.Sprintf("b%d", i) {
					t.Fatalf("broadcast %d: %q", i, got)
				}
			}
			// jsonp: alternate nodes too.
			for i := range 2 {
				st, b, _ := sjDo(t, "POST", fc.proxy+"/sockjs/0/plainsess/jsonp_send", "application/x-www-form-urlencoded", "d="+url.QueryEscape(fmt.Sprintf(`["j%d"]`, i)), nil)
				if st != 200 || b != "ok" {
					t.Fatalf("jsonp_send: %d %q", st, b)
				}
				for {
					st, b, _ = sjDo(t, "GET", fc.proxy+"/sockjs/0/plainsess/jsonp?c=cb", "", "", nil)
					if st != 200 {
						t.Fatalf("jsonp: %d %q", st, b)
					}
					if !strings.Contains(b, `"h"`) {
						break
					}
				}
				if want := fmt.Sprintf(`/**/cb("a[\"j%d\"]");`, i); strings.TrimSpace(b) != want {
					t.Fatalf("jsonp answer %q, want %q", b, want)
				}
			}
			// A stream that lands on the node without the session brings
			// one frame, in its own envelope, and ends.
			elsewhere := fc.bases[0]
			if fc.srvs[0].Len() == 1 {
				elsewhere = fc.bases[1]
			}
			for i, tr := range []string{"xhr_streaming", "eventsource"} {
				c.send(fmt.Sprintf(`["s%d"]`, i))
				method, want := "POST", fmt.Sprintf("a[\"s%d\"]\n", i)
				if tr == "eventsource" {
					method, want = "GET", fmt.Sprintf("data: a[\"s%d\"]\r\n\r\n", i)
				}
				st, b, _ := sjDo(t, method, elsewhere+"/sockjs/0/plainsess/"+tr, "", "", nil)
				if st != 200 || !strings.HasSuffix(b, want) {
					t.Fatalf("%s: %d %q", tr, st, b)
				}
			}
			// The Primus path's own table.
			p := sjOpen(t, fc.proxy+"/primus", "primsess")
			for i := range 3 {
				p.send(fmt.Sprintf(`["\"p%d\""]`, i))
				if got := p.messages(1); got[0] != fmt.Sprintf(`"p%d"`, i) {
					t.Fatalf("primus echo %d: %q", i, got)
				}
			}
			if out, served := fc.forwarded(); out < 8 || served < 8 {
				t.Fatalf("forwarded %d, served %d", out, served)
			}
			if n := fc.srvs[0].Len() + fc.srvs[1].Len(); n != 2 {
				t.Fatalf("%d sparks, want the two sessions", n)
			}
		})
	}
}
