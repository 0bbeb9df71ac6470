package channels_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/channels"
	"github.com/allspark/allspark/client"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type notification struct {
	UserID string `json:"userId,omitempty"`
	Text   string `json:"text"`
}

// The seed's routing rules, table-driven.
func TestRouting(t *testing.T) {
	srv, err := allspark.New(allspark.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ch := channels.New(srv, channels.Config{})
	ch.PublishEvent("message", channels.RoomPublisher)
	ch.PublishEvent("audit", func(context.Context, string, any) []string {
		return []string{channels.Role("admin"), channels.Role("auditor"), channels.Role("admin")}
	})
	tests := []struct {
		event string
		data  any
		want  []string
	}{
		{"notification", map[string]any{"userId": "42", "text": "hi"}, []string{"user/42"}},
		{"notification", map[string]any{"userId": 42.0}, []string{"user/42"}},
		{"notification", notification{UserID: "7", Text: "x"}, []string{"user/7"}},
		{"notification", &notification{UserID: "8"}, []string{"user/8"}},
		{"task", map[string]any{"projectId": "p1", "title": "t"}, []string{"project/p1"}},
		{"task", map[string]any{"projectId": int64(9)}, []string{"project/9"}},
		{"task", map[string]any{"userId": "1", "projectId": "p1"}, []string{"user/1"}},
		{"status", map[string]any{"text": "up"}, []string{"authenticated"}},
		{"status", "plain string", []string{"authenticated"}},
		{"status", map[string]any{"userId": ""}, []string{"authenticated"}},
		{"status", map[string]any{"userId": 1.5}, []string{"authenticated"}},
		{"status", map[string]any{"userId": true}, []string{"authenticated"}},
		{"message", map[string]any{"roomId": "lobby", "text": "hello"}, []string{"room/lobby"}},
		{"message", map[string]any{"roomId": "lobby", "userId": "42"}, []string{"room/lobby"}},
		{"message", map[string]any{"text": "no room"}, nil},
		{"audit", nil, []string{"role/admin", "role/auditor"}},
	}
	for _, tt := range tests {
		got := ch.Route(context.Background(), tt.event, tt.data)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s %v: routed to %v, want %v", tt.event, tt.data, got, tt.want)
		}
	}
	ch.PublishEvent("message", nil)
	if got := ch.Route(context.Background(), "message", map[string]any{"roomId": "x"}); !slices.Equal(got, []string{"authenticated"}) {
		t.Errorf("after removing the per-event publisher: %v", got)
	}
	ch.SetPublisher(func(context.Context, string, any) []string { return []string{"everyone"} })
	if got := ch.Route(context.Background(), "x", nil); !slices.Equal(got, []string{"everyone"}) {
		t.Errorf("custom global publisher: %v", got)
	}
}

type member struct {
	name string
	c    *client.Client
	id   string
	mu   sync.Mutex
	got  []string
}

func (m *member) received() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.got)
}

// The seed's flow end to end with Go clients: anonymous → authenticated →
// user/role channels; messages published to room/<roomId>.
func TestSeedFlow(t *testing.T) {
	srv, err := allspark.New(allspark.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch := channels.New(srv, channels.Config{})
	ch.PublishEvent("message", channels.RoomPublisher)
	users := map[string]channels.Identity{
		"alice-token": {UserID: "alice", Roles: []string{"admin"}},
		"bob-token":   {UserID: "bob"},
	}
	_ = srv.On("login", allspark.Handle(func(_ context.Context, sp *allspark.Spark, token string) (string, error) {
		id, ok := users[token]
		if !ok {
			return "", &allspark.EventError{Code: "unauthenticated", Message: "bad token"}
		}
		return id.UserID, ch.Login(sp, id)
	}))
	_ = srv.On("logout", allspark.Handle(func(_ context.Context, sp *allspark.Spark, _ struct{}) (struct{}, error) {
		return struct{}{}, ch.Logout(sp)
	}))
	_ = srv.On("join", allspark.Handle(func(_ context.Context, sp *allspark.Spark, room string) (struct{}, error) {
		if _, ok := ch.Identity(sp); !ok {
			return struct{}{}, &allspark.EventError{Code: "unauthenticated", Message: "log in first"}
		}
		return struct{}{}, sp.Join(channels.Room(room))
	}))
	hs := httptest.NewServer(srv)
	defer func() {
		_ = srv.Close()
		hs.Close()
	}()

	connect := func(name string) *member {
		m := &member{name: name}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := client.Dial(ctx, hs.URL+"/primus", client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Destroy(); <-c.Done() })
		for _, ev := range []string{"notification", "message", "status"} {
			_ = c.On(ev, func(_ context.Context, e *client.NamedEvent) (any, error) {
				m.mu.Lock()
				m.got = append(m.got, fmt.Sprintf("%s %v", e.Name, e.Args[0]))
				m.mu.Unlock()
				return nil, nil
			})
		}
		m.c = c
		m.id, _ = c.ID(ctx)
		return m
	}
	call := func(m *member, event string, args ...any) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := m.c.EmitWithAck(ctx, event, args...)
		return err
	}
	alice, bob, anon := connect("alice"), connect("bob"), connect("anon")
	if err := call(anon, "login", "wrong"); err == nil {
		t.Fatal("bad token accepted")
	}
	var ce *client.CallError
	if err := call(anon, "join", "lobby"); !errors.As(err, &ce) || ce.Code != "unauthenticated" {
		t.Fatalf("anonymous join: %v", err)
	}
	for _, step := range []struct {
		m     *member
		event string
		arg   any
	}{{alice, "login", "alice-token"}, {bob, "login", "bob-token"}, {alice, "join", "lobby"}, {bob, "join", "games"}} {
		if err := call(step.m, step.event, step.arg); err != nil {
			t.Fatalf("%s %s: %v", step.m.name, step.event, err)
		}
	}
	if got := ch.Channel(channels.Anonymous).Len(); got != 1 {
		t.Fatalf("anonymous has %d connections, want 1", got)
	}
	ctx := context.Background()
	publish := func(event string, data map[string]any, wantDelivered int) {
		t.Helper()
		res, err := ch.Publish(ctx, event, data)
		if err != nil || res.Delivered != wantDelivered {
			t.Fatalf("publish %s %v: %+v %v, want %d delivered", event, data, res, err, wantDelivered)
		}
	}
	publish("notification", map[string]any{"userId": "bob", "text": "for bob"}, 1)
	publish("status", map[string]any{"text": "all"}, 2)
	publish("message", map[string]any{"roomId": "lobby", "text": "in lobby"}, 1)
	publish("message", map[string]any{"roomId": "games", "text": "in games"}, 1)
	publish("message", map[string]any{"text": "nowhere"}, 0)
	if n, err := ch.Channel(channels.Role("admin")).Emit("notification", map[string]any{"text": "admins"}); err != nil || n != 1 {
		t.Fatalf("role channel: %d %v", n, err)
	}

	// Logging out goes back to anonymous: no more authenticated traffic.
	if err := call(bob, "logout"); err != nil {
		t.Fatal(err)
	}
	publish("status", map[string]any{"text": "after logout"}, 1)
	publish("status", nil, 1)

	want := map[*member][]string{
		alice: {"status map[text:all]", "message map[roomId:lobby text:in lobby]", "notification map[text:admins]", "status map[text:after logout]", "status <nil>"},
		bob:   {"notification map[text:for bob userId:bob]", "status map[text:all]", "message map[roomId:games text:in games]"},
		anon:  nil,
	}
	// A final marker, written to everyone, orders the check after delivery.
	if _, err := srv.Broadcast("marker"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	for m, w := range want {
		deadline := time.Now().Add(5 * time.Second)
		for len(m.received()) < len(w) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := m.received(); !slices.Equal(got, w) {
			t.Errorf("%s received %q, want %q", m.name, got, w)
		}
	}
	if rooms, _ := srv.Spark(bob.id); rooms != nil && !slices.Contains(rooms.Rooms(), channels.Room("games")) {
		t.Error("logout must keep rooms the application joined")
	}
}

func TestLoginValidation(t *testing.T) {
	srv, err := allspark.New(allspark.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ch := channels.New(srv, channels.Config{})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, hs.URL+"/primus", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { c.Destroy(); <-c.Done() }()
	id, _ := c.ID(ctx)
	sp, _ := srv.Spark(id)
	if err := ch.Login(sp, channels.Identity{}); !errors.Is(err, channels.ErrNoUser) {
		t.Fatalf("empty identity: %v", err)
	}
	if err := ch.Login(sp, channels.Identity{UserID: "u1", Roles: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if err := ch.Login(sp, channels.Identity{UserID: "u2", Roles: []string{"b"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := sp.Rooms(), []string{"authenticated", "role/b", "user/u2"}; !slices.Equal(got, want) {
		t.Fatalf("after re-login: %v, want %v", got, want)
	}
	if got := sp.User(); got != "u2" {
		t.Fatalf("Spark.User after re-login: %q (presence counts by it)", got)
	}
	if err := ch.Logout(sp); err != nil {
		t.Fatal(err)
	}
	if got := sp.Rooms(); !slices.Equal(got, []string{"anonymous"}) {
		t.Fatalf("after logout: %v", got)
	}
	if _, ok := ch.Identity(sp); ok {
		t.Fatal("identity kept after logout")
	}
	if got := sp.User(); got != "" {
		t.Fatalf("Spark.User after logout: %q", got)
	}
}
