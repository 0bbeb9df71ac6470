package services_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/channels"
	"github.com/allspark/allspark/channels/services"
	"github.com/allspark/allspark/client"
)

// Todo is a record of the example's service.
type Todo struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
	Done bool   `json:"done"`
}

// Todos is a Feathers service in Go: it has find, get and create; a
// Feathers client calling patch hears MethodNotAllowed.
type Todos struct {
	mu    sync.Mutex
	items []Todo
}

func (t *Todos) Find(_ context.Context, _ services.Params) (any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Todo{}, t.items...), nil
}

func (t *Todos) Get(_ context.Context, id services.ID, _ services.Params) (any, error) {
	n, _ := id.Int()
	t.mu.Lock()
	defer t.mu.Unlock()
	if n < 1 || int(n) > len(t.items) {
		return nil, services.NewError(services.NotFound, "No record found for id '%s'", id)
	}
	return t.items[n-1], nil
}

func (t *Todos) Create(_ context.Context, data services.Data, p services.Params) (any, error) {
	var todo Todo
	if err := data.Decode(&todo); err != nil {
		return nil, err // BadRequest, naming the field
	}
	if !p.Authenticated {
		return nil, services.NewError(services.NotAuthenticated, "log in first")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	todo.ID = len(t.items) + 1
	t.items = append(t.items, todo)
	return todo, nil // published as "todos created"
}

func Example() {
	srv, _ := allspark.New(allspark.Options{})
	ch := channels.New(srv, channels.Config{})
	app, _ := services.New(srv, ch)
	_ = app.Use("todos", &Todos{})
	// Every connection, logged in or not, hears about new todos.
	app.Publish("todos", func(context.Context, string, any) []string {
		return []string{channels.Anonymous, channels.Authenticated}
	})

	hs := httptest.NewServer(srv) // Socket.IO clients connect at /socket.io/, Primus ones at /primus
	defer hs.Close()
	defer srv.Close()

	// A client: Feathers' socket protocol, spoken here by the Go client.
	ctx := context.Background()
	c, _ := client.Dial(ctx, hs.URL+"/primus", client.Options{})
	defer func() { c.Destroy(); <-c.Done() }()
	created := make(chan string, 1)
	_ = c.On("todos created", func(_ context.Context, ev *client.NamedEvent) (any, error) {
		var t Todo
		_ = ev.Decode(0, &t)
		created <- t.Text
		return nil, nil
	})
	call := func(method string, args ...any) []any {
		r, _ := c.EmitWithAck(ctx, method, args...)
		return r.Args // [error] or [null, result]
	}
	fmt.Println(call("create", "todos", map[string]any{"text": "buy milk"}, map[string]any{})[0].(map[string]any)["name"])

	id, _ := c.ID(ctx)
	sp, _ := srv.Spark(id)
	_ = ch.Login(sp, channels.Identity{UserID: "alice"})
	fmt.Println(call("create", "todos", map[string]any{"text": "buy milk"}, map[string]any{})[1])
	fmt.Println("event:", <-created)
	fmt.Println(call("get", "todos", 2, map[string]any{})[0].(map[string]any)["message"])
	fmt.Println(call("patch", "todos", 1, map[string]any{"done": true}, map[string]any{})[0].(map[string]any)["className"])
	// Output:
	// NotAuthenticated
	// map[done:false id:1 text:buy milk]
	// event: buy milk
	// No record found for id '2'
	// method-not-allowed
}
