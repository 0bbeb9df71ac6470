package allspark_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/allspark/allspark"
)

// sioReply is a CONNECT reply's body.
type sioReply struct {
	SID string `json:"sid"`
	PID string `json:"pid"`
}

// sioConnectAuth joins the main namespace with auth (a JSON object, or ""
// for none) and returns the CONNECT reply.
func sioConnectAuth(t *testing.T, c *wsClient, auth string) sioReply {
	t.Helper()
	c.sendText("40" + auth)
	got := c.next().text
	var r sioReply
	if !strings.HasPrefix(got, "40{") || json.Unmarshal([]byte(got[2:]), &r) != nil || r.SID == "" {
		t.Fatalf("CONNECT reply %q", got)
	}
	return r
}

// expectSIOMessages reads the "message" events from..to, each with its
// offset as the last argument, and returns the last offset.
func expectSIOMessages(t *testing.T, c *wsClient, from, to int) string {
	t.Helper()
	offset := ""
	for i := from; i <= to; i++ {
		got := c.next().text
		var args []json.RawMessage
		if !strings.HasPrefix(got, "42[") || json.Unmarshal([]byte(got[2:]), &args) != nil || len(args) != 3 ||
			string(args[0]) != `"message"` || string(args[1]) != fmt.Sprint(i) || json.Unmarshal(args[2], &offset) != nil {
			t.Fatalf("message %d: got %s", i, got)
		}
	}
	return offset
}

// A restored Socket.IO socket answers with the spark's id, not the id its
// new connection was made with: the stock client reads socket.id from the
// CONNECT reply, and must read the same one back after a recovery, as the
// server's spark (Server.Spark, rooms, To(id)) keeps it.
func TestSocketIORecoveryAnswersTheRestoredSocketID(t *testing.T) {
	opts := historyOpts()
	opts.SocketIO.Recovery = true
	opts.History.Rooms[0].Size = 20
	srv, base := startServer(t, opts, joinChat)

	c := sioDial(t, base)
	first := sioConnectAuth(t, c, "")
	if first.PID == "" {
		t.Fatalf("no pid in %+v", first)
	}
	waitFor(t, "the join", func() bool { return srv.Room("chat:1").Len() == 1 })
	publishN(t, srv, "chat:1", 1, 3)
	offset := expectSIOMessages(t, c, 1, 3)
	cut(t, srv, c)
	publishN(t, srv, "chat:1", 4, 10)

	auth, _ := json.Marshal(map[string]string{"pid": first.PID, "offset": offset})
	c2 := sioDial(t, base)
	if got := sioConnectAuth(t, c2, string(auth)); got != first {
		t.Fatalf("recovered CONNECT reply %+v, want the first one %+v", got, first)
	}
	offset = expectSIOMessages(t, c2, 4, 10)
	if sp, ok := srv.Spark(first.SID); !ok || !sp.Restored() || !sp.Recovered() {
		t.Fatalf("spark %s: found %v, not restored and recovered", first.SID, ok)
	}

	// Past the history size: the same socket id, a new pid (recovered:
	// false for the stock client).
	cut(t, srv, c2)
	publishN(t, srv, "chat:1", 11, 40)
	auth, _ = json.Marshal(map[string]string{"pid": first.PID, "offset": offset})
	c3 := sioDial(t, base)
	got := sioConnectAuth(t, c3, string(auth))
	if got.SID != first.SID || got.PID == first.PID || got.PID == "" {
		t.Fatalf("unrecovered CONNECT reply %+v, want sid %s and a new pid", got, first.SID)
	}
	if sp, ok := srv.Spark(first.SID); !ok || !sp.Restored() || sp.Recovered() || sp.RecoveryReason() != allspark.RecoveryTruncated {
		t.Fatalf("spark %s: found %v, want restored, not recovered (truncated)", first.SID, ok)
	}
}

// The spark a reconnect restores is findable (Server.Spark) while the
// restore still sets its session's outcome: reading Restored, Recovered
// and RecoveryReason meanwhile is safe (go test -race), and once the
// client has its answer they say what it was told.
func TestSessionOutcomeReadableWhileRestoring(t *testing.T) {
	srv, base := startServer(t, historyOpts(), joinChat)
	c, s, epoch := connectFresh(t, base)
	cut(t, srv, c)
	publishN(t, srv, "chat:1", 1, 50)

	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if sp, ok := srv.Spark(s.ID); ok {
				_, _, _ = sp.Restored(), sp.Recovered(), sp.RecoveryReason()
			}
		}
	}()
	c2 := dial(t, base, "/primus?_session="+url.QueryEscape(s.Token), nil)
	s2 := readSession(t, c2)
	close(stop)
	<-done
	if !s2.Restored || !s2.Recovered {
		t.Fatalf("reconnect: %+v", s2)
	}
	expectStamped(t, c2, "chat:1", epoch, 1, 50)
	sp, ok := srv.Spark(s.ID)
	if !ok || !sp.Restored() || !sp.Recovered() || sp.RecoveryReason() != "" {
		t.Fatalf("spark %v: outcome not as the client was told", ok)
	}
}

// A spark that ends while its connection hooks still run was never set up
// by the application (the rooms its hooks join are missing): its session is
// not kept, so a reconnect is a new spark whose hooks run again, instead of
// a restored one that the application, seeing Restored, leaves roomless.
func TestSessionOfASparkEndedDuringItsHooksIsNotKept(t *testing.T) {
	opts := historyOpts()
	opts.SocketIO.Recovery = true
	release := make(chan struct{})
	var first sync.Once
	srv, base := startServer(t, opts, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			if sp.Restored() {
				return nil
			}
			first.Do(func() { <-release }) // the first socket's setup is slow
			return sp.Join("chat:1")
		})
	})
	c := sioDial(t, base)
	r := sioConnectAuth(t, c, "")
	cut(t, srv, c) // while the first hook blocks
	close(release)

	auth, _ := json.Marshal(map[string]string{"pid": r.PID})
	c2 := sioDial(t, base)
	r2 := sioConnectAuth(t, c2, string(auth))
	if r2.SID == r.SID || r2.PID == r.PID {
		t.Fatalf("reconnect %+v restored the spark that was never set up (%+v)", r2, r)
	}
	waitFor(t, "the new spark's hooks", func() bool { return srv.Room("chat:1").Len() == 1 })
	sp, ok := srv.Spark(r2.SID)
	if !ok || sp.Restored() || sp.RecoveryReason() != allspark.RecoveryExpired || !sp.InRoom("chat:1") {
		t.Fatalf("spark %s: found %v, want a new one (expired) in chat:1", r2.SID, ok)
	}
}

// With a store outside the process, a new spark's record is written once
// its connection hooks are done, not at connect: a node killed while they
// run leaves no half-made spark for another node to restore (the client
// starts over there), and the record has what the hooks set up.
func TestDurableSessionWrittenOnceTheHooksAreDone(t *testing.T) {
	store := &durableStore{recs: map[string][]byte{}}
	opts := historyOpts()
	opts.Recovery.Store = store
	entered, release := make(chan struct{}), make(chan struct{})
	srv, base := startServer(t, opts, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			if err := sp.Join("chat:1"); err != nil {
				return err
			}
			close(entered)
			<-release
			return sp.Join("chat:2")
		})
	})
	done := sync.OnceFunc(func() { close(release) })
	t.Cleanup(done) // before the server's shutdown, which waits for the hook
	c := dial(t, base, "/primus?_recover=1", nil)
	s := readSession(t, c)
	<-entered // after the spark's attach, and its first join
	store.mu.Lock()
	_, early := store.recs[s.ID]
	store.mu.Unlock()
	if early {
		t.Fatal("a record was written before the connection hooks were done")
	}
	done()
	waitFor(t, "the record with both rooms", func() bool {
		store.mu.Lock()
		defer store.mu.Unlock()
		r := string(store.recs[s.ID])
		return strings.Contains(r, `"chat:1"`) && strings.Contains(r, `"chat:2"`)
	})
	if sp, ok := srv.Spark(s.ID); !ok || len(sp.Rooms()) != 2 {
		t.Fatalf("spark %v", ok)
	}
}
