// Command pluginfixture serves the Allspark servers that emitter.test.mjs
// and feathers.test.mjs drive with the stock Primus client and its
// primus-emitter plugin, and with the stock Feathers clients.
//
// One HTTP server listens on -addr (default 127.0.0.1:0); the first line on
// stdout is "LISTEN <host:port>"; the process exits when stdin closes. Only
// the public API is used (packages allspark, channels, channels/services).
//
// /emitter: named events with primus-emitter clients, and our own
// envelopes from other clients on the same server (the same app as
// reference/emitter-server.cjs):
//
//	?room=NAME                       joins room NAME
//	echo(...args) → ack(...args)
//	ask(question) → asks the client "question"(question) with EmitWithAck, acks its answer
//	tell(name, ...args)              emits name(...args) to the caller
//	broadcast(room, name, ...args)   Room(room).Emit(name, args...), acks the count
//	plain data X                     written back as {"got": X}
//
// /primus and /socket.io/: a Feathers app in Go (the same as
// reference/feathers-server.cjs, which serves it with Feathers v4 on Primus
// and v5 on Socket.IO; here one server serves both wires, sharing its
// services and channels):
//
//	messages        find (query.userId filters), get, create (text required), update, patch (id null: all), remove
//	announcements   create only
//	authentication  create({strategy, token}): "alice-token" (roles admin), "bob-token" log in, else NotAuthenticated
//
// Primus sparks speak primus-emitter from the start (Emitter.Default).
// Channels: every connection starts in anonymous; a login moves it to
// authenticated and user/<id>. messages events go to user/<userId> when the
// record names one, else to authenticated; announcements to everyone;
// authentication events to nobody.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/channels"
	"github.com/allspark/allspark/channels/services"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()

	mux := http.NewServeMux()
	mount(mux, emitterServer(), "/emitter")
	feathers := feathersServer()
	mount(mux, feathers, "/primus")
	mux.Handle("/socket.io/", feathers)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		os.Exit(0)
	}()
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(hs.Serve(ln))
}

func mount(mux *http.ServeMux, srv *allspark.Server, pathname string) {
	mux.Handle(pathname, srv)
	mux.Handle(pathname+"/", srv)
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func emitterServer() *allspark.Server {
	srv, err := allspark.New(allspark.Options{Pathname: "/emitter", PingInterval: allspark.NoPing, SocketIO: allspark.SocketIOOptions{Disabled: true}})
	must(err)
	srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		if room := sp.Query().Get("room"); room != "" {
			if err := sp.Join(room); err != nil {
				return err
			}
		}
		sp.OnData(func(v any) { _ = sp.Write(map[string]any{"got": v}) })
		return nil
	})
	must(srv.On("echo", func(_ context.Context, ev *allspark.Event) (any, error) {
		return allspark.Args(ev.Args), nil
	}))
	must(srv.On("ask", func(ctx context.Context, ev *allspark.Event) (any, error) {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		r, err := ev.Spark.EmitWithAck(ctx, "question", ev.Args...)
		if err != nil {
			return nil, err
		}
		return allspark.Args(r.Args), nil
	}))
	must(srv.On("tell", func(_ context.Context, ev *allspark.Event) (any, error) {
		var name string
		if err := ev.Decode(0, &name); err != nil {
			return nil, err
		}
		return nil, ev.Spark.Emit(name, ev.Args[1:]...)
	}))
	must(srv.On("broadcast", func(_ context.Context, ev *allspark.Event) (any, error) {
		var room, name string
		if err := ev.Decode(0, &room); err != nil {
			return nil, err
		}
		if err := ev.Decode(1, &name); err != nil {
			return nil, err
		}
		return srv.Room(room).Emit(name, ev.Args[2:]...)
	}))
	return srv
}

func feathersServer() *allspark.Server {
	// Every Primus client of a Feathers app speaks primus-emitter (the v4
	// primus-client), and one that only listens never sends a packet:
	// Emitter.Default gives every Primus spark the dialect from its start.
	srv, err := allspark.New(allspark.Options{PingInterval: allspark.NoPing, Emitter: allspark.EmitterOptions{Default: true}})
	must(err)
	ch := channels.New(srv, channels.Config{})
	app, err := services.New(srv, ch)
	must(err)
	must(app.Use("messages", &messages{items: map[int]message{}}))
	must(app.Use("announcements", announcements{}))
	must(app.Use("authentication", authentication{ch}))
	app.Publish("announcements", func(context.Context, string, any) []string {
		return []string{channels.Anonymous, channels.Authenticated}
	})
	app.Publish("authentication", func(context.Context, string, any) []string { return nil })
	return srv
}

type message struct {
	ID     int    `json:"id"`
	Text   string `json:"text"`
	UserID string `json:"userId,omitempty"`
}

type messages struct {
	mu    sync.Mutex
	items map[int]message
	next  int
}

func (m *messages) Find(_ context.Context, p services.Params) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []message{}
	for _, it := range m.items {
		if u, ok := p.Query["userId"]; ok && u != it.UserID {
			continue
		}
		out = append(out, it)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (m *messages) lookup(id services.ID) (message, error) {
	n, _ := id.Int()
	it, ok := m.items[int(n)]
	if !ok {
		return message{}, &services.Error{Code: services.NotFound, Message: fmt.Sprintf("No record found for id '%s'", id), Data: map[string]any{"id": id.Value()}}
	}
	return it, nil
}

func (m *messages) Get(_ context.Context, id services.ID, _ services.Params) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lookup(id)
}

func (m *messages) Create(_ context.Context, data services.Data, _ services.Params) (any, error) {
	var in message
	if err := data.Decode(&in); err != nil {
		return nil, err
	}
	if in.Text == "" {
		return nil, &services.Error{Code: services.BadRequest, Message: "text is required", Errors: map[string]any{"text": "required"}}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.next++
	in.ID = m.next
	m.items[in.ID] = in
	return in, nil
}

func (m *messages) Update(_ context.Context, id services.ID, data services.Data, _ services.Params) (any, error) {
	var in message
	if err := data.Decode(&in); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old, err := m.lookup(id)
	if err != nil {
		return nil, err
	}
	in.ID = old.ID
	m.items[in.ID] = in
	return in, nil
}

func (m *messages) Patch(_ context.Context, id services.ID, data services.Data, _ services.Params) (any, error) {
	patch, _ := data.Value().(map[string]any)
	m.mu.Lock()
	defer m.mu.Unlock()
	apply := func(it message) message {
		if t, ok := patch["text"].(string); ok {
			it.Text = t
		}
		m.items[it.ID] = it
		return it
	}
	if id.IsNull() {
		out := []message{}
		for _, it := range m.items {
			out = append(out, apply(it))
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		return out, nil
	}
	it, err := m.lookup(id)
	if err != nil {
		return nil, err
	}
	return apply(it), nil
}

func (m *messages) Remove(_ context.Context, id services.ID, _ services.Params) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it, err := m.lookup(id)
	if err != nil {
		return nil, err
	}
	delete(m.items, it.ID)
	return it, nil
}

type announcements struct{}

func (announcements) Create(_ context.Context, data services.Data, _ services.Params) (any, error) {
	var in struct {
		Text string `json:"text"`
	}
	if err := data.Decode(&in); err != nil {
		return nil, err
	}
	return in, nil
}

var users = map[string]channels.Identity{
	"alice-token": {UserID: "alice", Roles: []string{"admin"}},
	"bob-token":   {UserID: "bob"},
}

type authentication struct{ ch *channels.Channels }

func (a authentication) Create(_ context.Context, data services.Data, p services.Params) (any, error) {
	var in struct {
		Strategy string `json:"strategy"`
		Token    string `json:"token"`
	}
	if err := data.Decode(&in); err != nil {
		return nil, err
	}
	id, ok := users[in.Token]
	if !ok {
		return nil, services.NewError(services.NotAuthenticated, "Invalid login")
	}
	if err := a.ch.Login(p.Spark, id); err != nil {
		return nil, err
	}
	return map[string]any{"accessToken": in.Token, "user": map[string]any{"id": id.UserID}}, nil
}
