package channels_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/channels"
	"github.com/allspark/allspark/client"
)

// The seed app's real-time wiring: connections start anonymous, a "login"
// event moves them to authenticated, user/<id> and role/<r>; "join" adds a
// chat room; chat messages are published to room/<roomId>, everything else
// by the default rules.
func Example() {
	srv, _ := allspark.New(allspark.Options{})
	ch := channels.New(srv, channels.Config{})
	ch.PublishEvent("message", channels.RoomPublisher)

	_ = srv.On("login", allspark.Handle(func(_ context.Context, sp *allspark.Spark, token string) (struct{}, error) {
		// A real app verifies the token; here the token is the user id.
		return struct{}{}, ch.Login(sp, channels.Identity{UserID: token, Roles: []string{"member"}})
	}))
	_ = srv.On("join", allspark.Handle(func(_ context.Context, sp *allspark.Spark, room string) (struct{}, error) {
		return struct{}{}, sp.Join(channels.Room(room))
	}))
	_ = srv.On("message", allspark.Handle(func(ctx context.Context, sp *allspark.Spark, msg map[string]any) (int, error) {
		id, _ := ch.Identity(sp)
		msg["userId"] = id.UserID
		res, err := ch.Publish(ctx, "message", msg) // → room/<roomId>
		return res.Delivered, err
	}))

	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Close()

	ctx := context.Background()
	c, _ := client.Dial(ctx, hs.URL+"/primus", client.Options{})
	defer func() { c.Destroy(); <-c.Done() }()
	got := make(chan string, 1)
	_ = c.On("message", func(_ context.Context, ev *client.NamedEvent) (any, error) {
		var m struct{ Text, UserID string }
		_ = ev.Decode(0, &m)
		got <- m.UserID + ": " + m.Text
		return nil, nil
	})
	id, _ := c.ID(ctx)
	sp, _ := srv.Spark(id)
	fmt.Println("connected:", sp.Rooms())

	_, _ = c.EmitWithAck(ctx, "login", "alice")
	_, _ = c.EmitWithAck(ctx, "join", "lobby")
	fmt.Println("logged in:", sp.Rooms())

	reply, _ := c.EmitWithAck(ctx, "message", map[string]any{"roomId": "lobby", "text": "hello"})
	var delivered int
	_ = reply.Decode(0, &delivered)
	fmt.Println("delivered to", delivered, "connection(s):", <-got)
	fmt.Println("a notification goes to", ch.Route(ctx, "notification", map[string]any{"userId": "bob"}))
	fmt.Println("anything else goes to", ch.Route(ctx, "status", map[string]any{"up": true}))
	// Output:
	// connected: [anonymous]
	// logged in: [authenticated role/member room/lobby user/alice]
	// delivered to 1 connection(s): alice: hello
	// a notification goes to [user/bob]
	// anything else goes to [authenticated]
}
