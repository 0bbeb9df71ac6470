package allspark

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lxzan/gws"
)

// A client that opens sessions in a loop (connect, go away, again) cannot
// make the server keep more than MaxSessions of them.
func TestSessionsOpenedInALoopAreBounded(t *testing.T) {
	srv, err := New(Options{PingInterval: NoPing, Recovery: RecoveryOptions{MaxSessions: 50}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background(), ShutdownOptions{Timeout: time.Second})
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/primus?_recover=1"
	for range 300 {
		c, _, err := gws.NewClient(new(gws.BuiltinEventHandler), &gws.ClientOption{Addr: url})
		if err != nil {
			t.Fatal(err)
		}
		_ = c.NetConn().Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.Len() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	store := srv.broker.(*MemoryBroker).sessions
	if n := store.len(); n > 50 || n == 0 {
		t.Fatalf("%d sessions kept, want at most 50 (and some)", n)
	}
}
