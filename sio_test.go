package allspark_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// sioDial opens a raw Socket.IO connection over WebSocket and joins the
// namespaces given as CONNECT packets ("0", "0/admin,{...}"), returning
// the client after the open packet.
func sioDial(t testing.TB, base string) *wsClient {
	t.Helper()
	c := dial(t, base, "/socket.io/?EIO=4&transport=websocket", nil)
	if open := c.next().text; !strings.HasPrefix(open, `0{"sid":`) {
		t.Fatalf("open packet %q", open)
	}
	return c
}

// sioConnect joins the main namespace and returns the socket id.
func sioConnect(t testing.TB, c *wsClient) string {
	t.Helper()
	c.sendText("40")
	got := c.next().text
	var reply struct{ SID string }
	if !strings.HasPrefix(got, "40{") || json.Unmarshal([]byte(got[2:]), &reply) != nil || reply.SID == "" {
		t.Fatalf("CONNECT reply %q", got)
	}
	return reply.SID
}

func TestSocketIOSocketIsASparkOfTheMainNamespace(t *testing.T) {
	var (
		mu  sync.Mutex
		got *allspark.Spark
	)
	srv, base := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			mu.Lock()
			got = sp
			mu.Unlock()
			return sp.Join("lobby")
		})
	})
	c := sioDial(t, base)
	id := sioConnect(t, c)
	waitFor(t, "the connection hook", func() bool { mu.Lock(); defer mu.Unlock(); return got != nil })
	if got.ID() != id || got.Protocol() != "socket.io" || got.Namespace() != "/" {
		t.Fatalf("spark id %q protocol %q namespace %q; socket id %q", got.ID(), got.Protocol(), got.Namespace(), id)
	}
	if sp, ok := srv.Spark(id); !ok || sp != got {
		t.Fatal("the socket id does not find the spark")
	}
	// A Primus spark in the same room receives the same room write.
	p := dial(t, base, "/primus", nil)
	waitFor(t, "the Primus spark", func() bool { return srv.Len() == 2 })
	srv.ForEach(func(sp *allspark.Spark) bool {
		if sp.Protocol() == "primus" {
			_ = sp.Join("lobby")
		}
		return true
	})
	if n, err := srv.Room("lobby").Emit("news", "hi", 2); err != nil || n != 2 {
		t.Fatalf("room emit: %d %v", n, err)
	}
	c.expect(`42["news","hi",2]`)
	p.expect(`{"allspark":1,"event":"news","args":["hi",2]}`)
	if _, err := srv.Room("lobby").Write(map[string]any{"a": 1}); err != nil {
		t.Fatal(err)
	}
	c.expect(`42["message",{"a":1}]`)
	p.expect(`{"a":1}`)
}

func TestSocketIOEventsAcksAndData(t *testing.T) {
	var anyMu sync.Mutex
	var anyNames []string
	_, base := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		_ = s.On("sum", func(_ context.Context, ev *allspark.Event) (any, error) {
			var a, b float64
			if err := ev.Decode(0, &a); err != nil {
				return nil, err
			}
			if err := ev.Decode(1, &b); err != nil {
				return nil, err
			}
			return a + b, nil
		})
		_ = s.On("fail", func(context.Context, *allspark.Event) (any, error) { return nil, errors.New("nope") })
		s.OnAny(func(ev *allspark.Event) { anyMu.Lock(); anyNames = append(anyNames, ev.Name); anyMu.Unlock() })
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnData(func(d any) { _ = sp.Write(map[string]any{"echo": d}) })
			return nil
		})
	})
	c := sioDial(t, base)
	sioConnect(t, c)
	c.sendText(`420["sum",2,3]`)
	c.expect(`430[5]`)
	c.sendText(`427["fail"]`)
	c.expect(`437[{"error":{"code":"handler_error","message":"nope","event":"fail"}}]`)
	c.sendText(`423["nobody"]`)
	c.expect(`433[{"error":{"code":"unknown_event","message":"no handler for event","event":"nobody"}}]`)
	c.sendText(`42["nobody"]`)
	c.expect(`42["allspark:error",{"code":"unknown_event","message":"no handler for event","event":"nobody"}]`)
	c.sendText(`42["message","hi"]`)
	c.expect(`42["message",{"echo":"hi"}]`)
	anyMu.Lock()
	defer anyMu.Unlock()
	if strings.Join(anyNames, ",") != "sum,fail,nobody,nobody" {
		t.Errorf("OnAny saw %v", anyNames)
	}
}

func TestSocketIOServerRequestsAndBinary(t *testing.T) {
	replies := make(chan *allspark.Reply, 1)
	_, base := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		_ = s.On("kinds", func(_ context.Context, ev *allspark.Event) (any, error) {
			var kinds []any
			for _, a := range ev.Args {
				switch a.(type) {
				case []byte:
					kinds = append(kinds, "bytes")
				default:
					kinds = append(kinds, "other")
				}
			}
			return kinds, nil
		})
		s.OnConnection(func(ctx context.Context, sp *allspark.Spark) error {
			go func() {
				r, err := sp.EmitWithAck(ctx, "give", []byte{1, 2})
				if err == nil {
					replies <- r
				}
			}()
			return nil
		})
	})
	c := sioDial(t, base)
	sioConnect(t, c)
	c.expect(`451-1["give",{"_placeholder":true,"num":0}]`)
	if m := c.next(); !m.binary || m.text != "\x01\x02" {
		t.Fatalf("attachment %+v", m)
	}
	c.sendText(`461-1[{"_placeholder":true,"num":0}]`)
	if err := c.conn.WriteMessage(2, []byte{9, 9}); err != nil { // gws.OpcodeBinary
		t.Fatal(err)
	}
	select {
	case r := <-replies:
		if b, ok := r.Args[0].([]byte); !ok || len(b) != 2 || b[0] != 9 {
			t.Fatalf("reply args %v", r.Args)
		}
	case <-time.After(waitLong):
		t.Fatal("no reply")
	}
	c.sendText(`452-0["kinds",{"_placeholder":true,"num":0},"x",{"_placeholder":true,"num":1}]`)
	_ = c.conn.WriteMessage(2, []byte{1})
	_ = c.conn.WriteMessage(2, []byte{2})
	c.expect(`430[["bytes","other","bytes"]]`) // a handler's result is one ack argument
}

func TestSocketIOAuthorizationAndNamespaces(t *testing.T) {
	srv, base := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.Authorize(func(r *http.Request) error {
			if auth, ok := allspark.HandshakeAuth(r); ok {
				if m, _ := auth.(map[string]any); m["token"] == "bad" {
					return &allspark.AuthError{Message: "unauthorized", Data: map[string]any{"retry": false}}
				}
			}
			return nil
		})
		admin := s.Namespace("/admin")
		admin.Use(func(h *allspark.Handshake) error {
			if m, _ := h.Auth.(map[string]any); m["role"] != "admin" {
				return errors.New("admins only")
			}
			return nil
		})
		admin.OnConnection(func(_ context.Context, sp *allspark.Spark) error { return sp.Join("lobby") })
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error { return sp.Join("lobby") })
	})
	// The handshake itself is not refused: Socket.IO authorizes CONNECT.
	res, err := http.Get(base + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(string(body), `0{"sid":`) {
		t.Fatalf("handshake %d %q", res.StatusCode, body)
	}
	c := sioDial(t, base)
	c.sendText(`40{"token":"bad"}`)
	c.expect(`44{"message":"unauthorized","data":{"retry":false}}`)
	c.sendText(`40/admin,{"role":"user"}`)
	c.expect(`44/admin,{"message":"admins only"}`)
	c.sendText(`40/nope,`)
	c.expect(`44/nope,{"message":"Invalid namespace"}`)
	c.sendText(`40/admin,{"role":"admin"}`)
	if got := c.next().text; !strings.HasPrefix(got, `40/admin,{"sid":`) {
		t.Fatalf("admin CONNECT reply %q", got)
	}
	c.sendText(`40`)
	if got := c.next().text; !strings.HasPrefix(got, `40{"sid":`) {
		t.Fatalf("main CONNECT reply %q", got)
	}
	admin := srv.Namespace("admin")
	waitFor(t, "both sockets", func() bool { return admin.Len() == 1 && srv.Room("lobby").Len() == 1 && admin.Room("lobby").Len() == 1 })
	// Rooms with one name in two namespaces are two rooms.
	_, _ = admin.Room("lobby").Emit("only", "admins")
	c.expect(`42/admin,["only","admins"]`)
	_, _ = srv.Room("lobby").Emit("only", "main")
	c.expect(`42["only","main"]`)
	_, _ = admin.All().Write("all admins")
	c.expect(`42/admin,["message","all admins"]`)
	for _, sp := range admin.All().Sparks() {
		if sp.Namespace() != "/admin" || strings.Join(sp.Rooms(), ",") != "lobby" {
			t.Errorf("admin spark namespace %q rooms %v", sp.Namespace(), sp.Rooms())
		}
	}
	if names := srv.RoomNames(); strings.Join(names, ",") != "lobby" {
		t.Errorf("RoomNames %v", names)
	}
}

func TestSocketIOEndAndReasons(t *testing.T) {
	type end struct {
		reason string
		rooms  []string
	}
	ends := make(chan end, 8)
	srv, base := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error { return sp.Join("r") })
		s.OnDisconnecting(func(sp *allspark.Spark, reason string) { ends <- end{reason, sp.Rooms()} })
	})
	next := func() end {
		t.Helper()
		select {
		case e := <-ends:
			return e
		case <-time.After(waitLong):
			t.Fatal("no disconnecting hook")
			return end{}
		}
	}
	c := sioDial(t, base)
	id := sioConnect(t, c)
	waitFor(t, "spark in its room", func() bool { sp, ok := srv.Spark(id); return ok && sp.InRoom("r") })
	sp, _ := srv.Spark(id)
	sp.End(nil, false)
	c.expect(`41`)
	if e := next(); e.reason != allspark.ReasonServerDisconnect || strings.Join(e.rooms, ",") != "r" {
		t.Errorf("server end: %+v", e)
	}
	// The connection stays: the namespace can be joined again.
	id = sioConnect(t, c)
	c.sendText(`41`)
	if e := next(); e.reason != allspark.ReasonClientDisconnect {
		t.Errorf("client disconnect: %+v", e)
	}
	id = sioConnect(t, c)
	waitFor(t, "spark", func() bool { _, ok := srv.Spark(id); return ok })
	sp, _ = srv.Spark(id)
	sp.End(nil, true) // reconnect: the whole connection closes
	if _, err := c.waitClose(); err == nil {
		t.Log("closed")
	}
	if e := next(); e.reason != allspark.ReasonForcedClose {
		t.Errorf("end with reconnect: %+v", e)
	}
	c2 := sioDial(t, base)
	sioConnect(t, c2)
	_ = c2.conn.NetConn().Close()
	if e := next(); e.reason != allspark.ReasonTransportClose && e.reason != allspark.ReasonTransportError {
		t.Errorf("dropped connection: %+v", e)
	}
	c3 := sioDial(t, base)
	sioConnect(t, c3)
	c3.sendText(`42["disconnect"]`)
	if e := next(); e.reason != allspark.ReasonParseError {
		t.Errorf("reserved event name: %+v", e)
	}
}

func TestSocketIOTargetOperations(t *testing.T) {
	srv, base := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error { return sp.Join("room") })
	})
	a, b := sioDial(t, base), sioDial(t, base)
	idA, idB := sioConnect(t, a), sioConnect(t, b)
	waitFor(t, "members", func() bool { return srv.Room("room").Len() == 2 })

	go func() { a.expect(`421["q"]`); a.sendText(`431["yes"]`) }()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	replies, err := srv.Room("room").EmitWithAck(ctx, "q")
	cancel()
	var te *allspark.AckTimeoutError
	if !errors.As(err, &te) || te.Missing != 1 || te.Total != 2 || len(replies) != 1 || replies[0].From != idA || replies[0].Args[0] != "yes" {
		t.Fatalf("EmitWithAck: %v %+v %+v", err, te, replies)
	}
	b.expect(`421["q"]`) // b never answered

	if n, err := srv.Room("room").Except(idB).Join(context.Background(), "extra"); n != 1 || err != nil {
		t.Fatalf("Join: %d", n)
	}
	if sp, _ := srv.Spark(idA); !sp.InRoom("extra") {
		t.Fatal("socketsJoin did not join")
	}
	_, _ = srv.Room("extra").Emit("x")
	a.expect(`42["x"]`)
	_, _ = srv.Room("room").Leave(context.Background(), "extra")
	if srv.Room("extra").Len() != 0 {
		t.Fatal("socketsLeave did not leave")
	}
	// Volatile: a receiver with a busy queue is skipped (sendqueue's
	// pushIfIdle test covers the skip); these two are idle once their
	// writers have seen their queues empty, just after the last write.
	time.Sleep(100 * time.Millisecond)
	if n, _ := srv.Room("room").Volatile().Emit("v", 1); n != 2 {
		t.Fatalf("volatile to idle sockets reached %d", n)
	}
	a.expect(`42["v",1]`)
	b.expect(`42["v",1]`)
	if n, err := srv.To(idB).Disconnect(context.Background(), false); n != 1 || err != nil {
		t.Fatalf("Disconnect: %d", n)
	}
	b.expect(`41`)
	if sparks := srv.Room("room").Sparks(); len(sparks) != 1 || sparks[0].ID() != idA {
		t.Fatalf("fetchSockets after disconnect: %v", sparks)
	}
}

// TestRoomEmitWithAckReportsAckErrorsAndDisconnecting: a receiver that
// answers a room request with an ack error is a reply with Err set (not a
// missing one), and a spark's own disconnecting handler sees its rooms
// and the reason.
func TestRoomEmitWithAckReportsAckErrorsAndDisconnecting(t *testing.T) {
	type end struct {
		reason string
		rooms  []string
	}
	ends := make(chan end, 1)
	srv, base := startServer(t, allspark.Options{PingInterval: allspark.NoPing}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnDisconnecting(func(reason string) { ends <- end{reason, sp.Rooms()} })
			return sp.Join("r")
		})
	})
	c := dial(t, base, "/primus", nil)
	waitFor(t, "member", func() bool { return srv.Room("r").Len() == 1 })
	go func() {
		c.expect(`{"allspark":1,"event":"q","args":[],"id":1}`)
		c.sendText(`{"allspark":1,"ack":1,"error":{"code":"nope","message":"refused"}}`)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	replies, err := srv.Room("r").EmitWithAck(ctx, "q")
	var ee *allspark.EventError
	if err != nil || len(replies) != 1 || !errors.As(replies[0].Err, &ee) || ee.Code != "nope" || replies[0].From == "" {
		t.Fatalf("EmitWithAck: %v %+v", err, replies)
	}
	_, _ = srv.Room("r").Disconnect(context.Background(), false)
	select {
	case e := <-ends:
		if e.reason != allspark.ReasonServerDisconnect || strings.Join(e.rooms, ",") != "r" {
			t.Errorf("disconnecting: %+v", e)
		}
	case <-time.After(waitLong):
		t.Fatal("the spark's disconnecting handler did not run")
	}
}
