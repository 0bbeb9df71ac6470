package redis

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
)

// fastCluster makes membership changes visible within a second or two.
var fastCluster = allspark.ClusterOptions{
	HeartbeatInterval: 100 * time.Millisecond,
	NodeTTL:           time.Second,
	RequestTimeout:    3 * time.Second,
}

// joinRooms: every spark joins the rooms of its ?rooms=a,b query.
func joinRooms(srv *allspark.Server) {
	srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		if q := sp.Query().Get("rooms"); q != "" {
			return sp.Join(strings.Split(q, ",")...)
		}
		return nil
	})
}

// startServer runs an allspark.Server for node on broker behind httptest.
func startServer(t testing.TB, broker allspark.Broker, node string) (*allspark.Server, string) {
	t.Helper()
	srv, base := startServerOpts(t, allspark.Options{Broker: broker, NodeID: node})
	joinRooms(srv)
	return srv, base
}

// startServerOpts runs an allspark.Server with opts (fastCluster and a
// quiet logger unless set) behind httptest.
func startServerOpts(t testing.TB, opts allspark.Options) (*allspark.Server, string) {
	t.Helper()
	if opts.Cluster == (allspark.ClusterOptions{}) {
		opts.Cluster = fastCluster
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	srv, err := allspark.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx, allspark.ShutdownOptions{Timeout: time.Second})
		hs.Close()
	})
	return srv, hs.URL
}

// peer is a Go client connected to one node.
type peer struct {
	c   *client.Client
	id  string
	mu  sync.Mutex
	got []string
}

func connectPeer(t testing.TB, base, query string) *peer {
	t.Helper()
	p := &peer{}
	opts := client.Options{Strategy: client.StrategyNone, OnEvent: func(ev client.Event) {
		if ev.Kind == client.EventData {
			p.mu.Lock()
			p.got = append(p.got, fmt.Sprint(ev.Data))
			p.mu.Unlock()
		}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, base+"/primus?"+query, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Destroy()
		<-c.Done()
	})
	if p.id, err = c.ID(ctx); err != nil {
		t.Fatal(err)
	}
	p.c = c
	return p
}

func (p *peer) received() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.got)
}

// expect waits until p has received want (in any order) and nothing else.
func (p *peer) expect(t testing.TB, name string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(p.received()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// A little longer, so that a duplicate would show.
	time.Sleep(50 * time.Millisecond)
	got := p.received()
	slices.Sort(got)
	w := slices.Clone(want)
	slices.Sort(w)
	if !slices.Equal(got, w) {
		t.Errorf("%s received %q, want %q", name, got, w)
	}
}

func (p *peer) reset() {
	p.mu.Lock()
	p.got = nil
	p.mu.Unlock()
}
