package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/lxzan/gws"
)

// wsPeer is a raw WebSocket client of /primus that sees the session wire
// (docs/recovery.md) as it is: our clients' envelopes, unparsed.
type wsPeer struct {
	t      testing.TB
	conn   *gws.Conn
	msgs   chan string
	closed chan struct{}
}

type wsPeerEvents struct {
	gws.BuiltinEventHandler
	p *wsPeer
}

func (e wsPeerEvents) OnClose(*gws.Conn, error) { close(e.p.closed) }
func (e wsPeerEvents) OnMessage(_ *gws.Conn, m *gws.Message) {
	e.p.msgs <- m.Data.String()
	m.Close()
}

func dialPeer(t testing.TB, base, query string) *wsPeer {
	t.Helper()
	p := &wsPeer{t: t, msgs: make(chan string, 4096), closed: make(chan struct{})}
	conn, _, err := gws.NewClient(wsPeerEvents{p: p}, &gws.ClientOption{Addr: "ws" + strings.TrimPrefix(base, "http") + "/primus?" + query})
	if err != nil {
		t.Fatal(err)
	}
	p.conn = conn
	go conn.ReadLoop()
	t.Cleanup(func() {
		_ = conn.NetConn().Close()
		<-p.closed
	})
	return p
}

// wire is any envelope of the session wire.
type wire struct {
	Session *struct {
		ID, Token, Reason   string
		Restored, Recovered bool
	} `json:"session"`
	Room   string          `json:"room"`
	Offset uint64          `json:"offset"`
	Epoch  string          `json:"epoch"`
	Data   json.RawMessage `json:"data"`
}

func (p *wsPeer) next() wire {
	p.t.Helper()
	select {
	case m := <-p.msgs:
		var w wire
		if err := json.Unmarshal([]byte(m), &w); err != nil {
			p.t.Fatalf("not an envelope: %s", m)
		}
		return w
	case <-time.After(10 * time.Second):
		p.t.Fatal("no message within 10 s")
	}
	return wire{}
}

// expectStamped reads writes from..to of room, in order, in epoch.
func (p *wsPeer) expectStamped(name, room, epoch string, from, to int) {
	p.t.Helper()
	for i := from; i <= to; i++ {
		w := p.next()
		if w.Room != room || w.Offset != uint64(i) || w.Epoch != epoch || string(w.Data) != fmt.Sprint(i) {
			p.t.Fatalf("%s: write %d arrived as %+v (data %s)", name, i, w, w.Data)
		}
	}
}

// Two servers on Redis with history in chat:* rooms: a spark on node a
// receives the writes published on node b with positions 1..N, in order,
// as does a spark on b itself; cut off, it comes back through b with its
// session (kept in Redis) and gets what it missed replayed from the
// room's stream in Redis, then live writes.
func TestHistoryServersOnRedis(t *testing.T) {
	prefix := randomPrefix()
	history := allspark.HistoryOptions{Rooms: []allspark.HistoryRule{{Pattern: "chat:*", Size: 1000, TTL: time.Minute}}}
	join := func(srv *allspark.Server) {
		srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			if sp.Restored() {
				return nil
			}
			return sp.Join("chat:1")
		})
	}
	var srvs []*allspark.Server
	var bases []string
	for _, node := range []string{"a", "b"} {
		srv, base := startServerOpts(t, allspark.Options{
			Broker: newTestBroker(t, Options{Prefix: prefix}), NodeID: node,
			PingInterval: allspark.NoPing, History: history,
		})
		join(srv)
		srvs, bases = append(srvs, srv), append(bases, base)
	}
	a, b := srvs[0], srvs[1]

	connect := func(base string) (*wsPeer, string, string) {
		p := dialPeer(t, base, "_recover=1")
		s := p.next().Session
		if s == nil || s.Reason != "new" || s.Token == "" {
			t.Fatalf("first message: %+v", s)
		}
		ann := p.next()
		if ann.Room != "chat:1" || ann.Data != nil || ann.Offset != 0 || ann.Epoch == "" {
			t.Fatalf("join announcement: %+v", ann)
		}
		return p, s.Token, ann.Epoch
	}
	onA, token, epoch := connect(bases[0])
	onB, _, epochB := connect(bases[1])
	if epochB != epoch {
		t.Fatalf("the nodes announce epochs %s and %s", epoch, epochB)
	}
	const n = 200
	for i := 1; i <= n; i++ {
		if _, err := b.Room("chat:1").Write(i); err != nil {
			t.Fatal(err)
		}
	}
	onA.expectStamped("spark on a", "chat:1", epoch, 1, n)
	onB.expectStamped("spark on b", "chat:1", epoch, 1, n)

	_ = onA.conn.NetConn().Close()
	eventually(t, 10*time.Second, "a sees the cut", func() bool { return a.Len() == 0 })
	for i := n + 1; i <= n+50; i++ {
		if _, err := b.Room("chat:1").Write(i); err != nil {
			t.Fatal(err)
		}
	}
	since := url.QueryEscape(fmt.Sprintf(`{"chat:1":[%d,%q]}`, n, epoch))
	back := dialPeer(t, bases[1], "_session="+url.QueryEscape(token)+"&_since="+since)
	if s := back.next().Session; s == nil || !s.Restored || !s.Recovered {
		t.Fatalf("reconnect through b: %+v", s)
	}
	back.expectStamped("restored spark", "chat:1", epoch, n+1, n+50)
	if _, err := a.Room("chat:1").Write(n + 51); err != nil {
		t.Fatal(err)
	}
	back.expectStamped("restored spark", "chat:1", epoch, n+51, n+51)
	onB.expectStamped("spark on b", "chat:1", epoch, n+1, n+51)
}
