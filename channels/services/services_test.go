package services_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/channels"
	"github.com/allspark/allspark/channels/services"
	"github.com/allspark/allspark/client"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wait = 5 * time.Second

// message is a record of the test service.
type message struct {
	ID     int    `json:"id"`
	Text   string `json:"text"`
	UserID string `json:"userId,omitempty"`
}

// messages is an in-memory service with every method.
type messages struct {
	mu    sync.Mutex
	items map[int]message
	next  int
}

func newMessages() *messages { return &messages{items: make(map[int]message)} }

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
	n, ok := id.Int()
	if !ok {
		return message{}, services.NewError(services.BadRequest, "id %q is not a number", id.String())
	}
	it, ok := m.items[int(n)]
	if !ok {
		return message{}, &services.Error{Code: services.NotFound, Message: fmt.Sprintf("No record found for id '%d'", n), Data: map[string]any{"id": n}}
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

func (m *messages) Patch(_ context.Context, id services.ID, data services.Data, p services.Params) (any, error) {
	patch, ok := data.Value().(map[string]any)
	if !ok {
		return nil, services.NewError(services.BadRequest, "data must be an object")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	apply := func(it message) message {
		if t, ok := patch["text"].(string); ok {
			it.Text = t
		}
		m.items[it.ID] = it
		return it
	}
	if id.IsNull() { // every record
		var out []message
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

// readOnly has find only.
type readOnly struct{}

func (readOnly) Find(context.Context, services.Params) (any, error) { return []string{"a"}, nil }

// trouble fails in every way a method can.
type trouble struct{}

func (trouble) Get(ctx context.Context, id services.ID, _ services.Params) (any, error) {
	switch id.String() {
	case "plain":
		return nil, errors.New("disk on fire")
	case "panic":
		panic("boom")
	case "deadline":
		ctx, cancel := context.WithTimeout(ctx, time.Millisecond)
		defer cancel()
		<-ctx.Done()
		return nil, fmt.Errorf("waiting: %w", ctx.Err())
	case "teapot":
		return nil, &services.Error{Code: 418, Message: "short and stout"}
	case "conflict":
		return nil, fmt.Errorf("wrapped: %w", &services.Error{Code: services.Conflict, Message: "taken", Data: map[string]any{"field": "name"}})
	}
	return map[string]any{"id": id.Value(), "query": nil}, nil
}

// harness is a server with the service layer, channels and a login
// service, and Go clients that call it.
type harness struct {
	t    *testing.T
	srv  *allspark.Server
	ch   *channels.Channels
	app  *services.App
	base string
}

var users = map[string]channels.Identity{
	"alice-token": {UserID: "alice", Roles: []string{"admin"}},
	"bob-token":   {UserID: "bob"},
}

// authentication logs a connection in, as Feathers' authentication
// service create does.
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

func newHarness(t *testing.T) *harness {
	t.Helper()
	srv, err := allspark.New(allspark.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ch := channels.New(srv, channels.Config{})
	app, err := services.New(srv, ch)
	if err != nil {
		t.Fatal(err)
	}
	for path, svc := range map[string]any{"messages": newMessages(), "/readonly/": readOnly{}, "trouble": trouble{}, "authentication": authentication{ch}} {
		if err := app.Use(path, svc); err != nil {
			t.Fatal(err)
		}
	}
	// The authentication service's events go to nobody (Feathers does not
	// publish them either).
	app.Publish("authentication", func(context.Context, string, any) []string { return nil })
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		_ = srv.Close()
		hs.Close()
	})
	return &harness{t: t, srv: srv, ch: ch, app: app, base: hs.URL}
}

// conn is a Go client that records the service events it receives.
type conn struct {
	h  *harness
	c  *client.Client
	mu sync.Mutex
	ev []string
}

func (h *harness) connect() *conn {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := client.Dial(ctx, h.base+"/primus", client.Options{})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Destroy(); <-c.Done() })
	cn := &conn{h: h, c: c}
	for _, name := range []string{"messages created", "messages updated", "messages patched", "messages removed"} {
		_ = c.On(name, func(_ context.Context, ev *client.NamedEvent) (any, error) {
			var m message
			_ = ev.Decode(0, &m)
			cn.mu.Lock()
			cn.ev = append(cn.ev, fmt.Sprintf("%s %d %s", strings.TrimPrefix(ev.Name, "messages "), m.ID, m.Text))
			cn.mu.Unlock()
			return nil, nil
		})
	}
	if _, err := c.ID(ctx); err != nil { // the connection hooks (anonymous) ran
		h.t.Fatal(err)
	}
	return cn
}

func (cn *conn) events() []string {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return slices.Clone(cn.ev)
}

// call sends method(path, args...) and returns the ack: (error, result).
func (cn *conn) call(method string, args ...any) (map[string]any, any) {
	cn.h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	r, err := cn.c.EmitWithAck(ctx, method, args...)
	if err != nil {
		cn.h.t.Fatalf("%s %v: %v", method, args, err)
	}
	if len(r.Args) == 1 {
		e, ok := r.Args[0].(map[string]any)
		if !ok {
			cn.h.t.Fatalf("%s %v: one ack argument that is no error: %v", method, args, r.Args)
		}
		return e, nil
	}
	if len(r.Args) != 2 || r.Args[0] != nil {
		cn.h.t.Fatalf("%s %v: ack %v, want [null, result]", method, args, r.Args)
	}
	return nil, r.Args[1]
}

func (cn *conn) ok(method string, args ...any) any {
	cn.h.t.Helper()
	e, res := cn.call(method, args...)
	if e != nil {
		cn.h.t.Fatalf("%s %v failed: %v", method, args, e)
	}
	return res
}

// fails checks a call fails with the Feathers error of class code (its
// name, className and code as the client sees them) and a message
// containing text; it returns the error object.
func (cn *conn) fails(code int, name, className, text, method string, args ...any) map[string]any {
	cn.h.t.Helper()
	e, res := cn.call(method, args...)
	if e == nil {
		cn.h.t.Fatalf("%s %v succeeded with %v", method, args, res)
	}
	if e["name"] != name || e["className"] != className || e["code"] != float64(code) || !strings.Contains(fmt.Sprint(e["message"]), text) {
		cn.h.t.Fatalf("%s %v: %v, want %s (%d, %s) with %q", method, args, e, name, code, className, text)
	}
	return e
}

func TestCallsEveryMethod(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	q := map[string]any{}
	if got := c.ok("create", "messages", map[string]any{"text": "one", "userId": "bob"}, q); !reflect.DeepEqual(got, map[string]any{"id": 1.0, "text": "one", "userId": "bob"}) {
		t.Fatalf("create: %v", got)
	}
	c.ok("create", "/messages/", map[string]any{"text": "two"}, q) // slashes trimmed, as Feathers does
	if got := c.ok("get", "messages", 2.0, q); !reflect.DeepEqual(got, map[string]any{"id": 2.0, "text": "two"}) {
		t.Fatalf("get: %v", got)
	}
	if got := c.ok("get", "messages", "1", q); got.(map[string]any)["text"] != "one" { // an id as a string
		t.Fatalf("get by string id: %v", got)
	}
	if got := c.ok("find", "messages", map[string]any{"userId": "bob"}); len(got.([]any)) != 1 {
		t.Fatalf("find with query: %v", got)
	}
	if got := c.ok("find", "messages"); len(got.([]any)) != 2 { // no query at all
		t.Fatalf("find: %v", got)
	}
	if got := c.ok("patch", "messages", 1.0, map[string]any{"text": "uno"}, q); got.(map[string]any)["text"] != "uno" {
		t.Fatalf("patch: %v", got)
	}
	if got := c.ok("update", "messages", 2.0, map[string]any{"text": "dos"}, q); !reflect.DeepEqual(got, map[string]any{"id": 2.0, "text": "dos"}) {
		t.Fatalf("update: %v", got)
	}
	if got := c.ok("patch", "messages", nil, map[string]any{"text": "all"}, q); len(got.([]any)) != 2 {
		t.Fatalf("patch of every record: %v", got)
	}
	if got := c.ok("remove", "messages", 1.0, q); got.(map[string]any)["id"] != 1.0 {
		t.Fatalf("remove: %v", got)
	}
	if got := c.ok("find", "readonly", q); !reflect.DeepEqual(got, []any{"a"}) {
		t.Fatalf("find on a find-only service: %v", got)
	}
}

func TestErrorsAreFeathersErrors(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	q := map[string]any{}
	c.fails(404, "NotFound", "not-found", "Service 'nowhere' not found", "find", "nowhere", q)
	c.fails(404, "NotFound", "not-found", "Invalid service path", "find", 42, q)
	c.fails(404, "NotFound", "not-found", "Invalid service path", "find")
	c.fails(405, "MethodNotAllowed", "method-not-allowed", "Method 'create' not allowed on service 'readonly'", "create", "readonly", map[string]any{}, q)
	c.fails(400, "BadRequest", "bad-request", "Too many arguments for 'get' method", "get", "messages", 1.0, q, "extra")
	c.fails(400, "BadRequest", "bad-request", "must be an object", "find", "messages", "not a query")
	c.fails(400, "BadRequest", "bad-request", "Invalid id", "get", "messages", map[string]any{"id": 1}, q)
	c.fails(400, "BadRequest", "bad-request", "id for 'get' is required", "get", "messages", nil, q)
	c.fails(400, "BadRequest", "bad-request", "invalid data", "create", "messages", map[string]any{"text": 5}, q)
	e := c.fails(400, "BadRequest", "bad-request", "text is required", "create", "messages", map[string]any{}, q)
	if !reflect.DeepEqual(e["errors"], map[string]any{"text": "required"}) {
		t.Fatalf("errors not sent: %v", e)
	}
	e = c.fails(404, "NotFound", "not-found", "No record found for id '9'", "get", "messages", 9.0, q)
	if !reflect.DeepEqual(e["data"], map[string]any{"id": 9.0}) {
		t.Fatalf("data not sent: %v", e)
	}
	c.fails(500, "GeneralError", "general-error", "disk on fire", "get", "trouble", "plain", q)
	c.fails(500, "GeneralError", "general-error", "internal error", "get", "trouble", "panic", q)
	c.fails(408, "Timeout", "timeout", "deadline exceeded", "get", "trouble", "deadline", q)
	c.fails(500, "GeneralError", "general-error", "short and stout", "get", "trouble", "teapot", q)
	e = c.fails(409, "Conflict", "conflict", "taken", "get", "trouble", "conflict", q)
	if _, has := e["errors"]; has || !reflect.DeepEqual(e["data"], map[string]any{"field": "name"}) {
		t.Fatalf("conflict: %v", e)
	}
	// The connection still works after all that.
	c.ok("find", "messages", q)
}

// A call without an ack callback runs, and gets nothing back.
func TestCallWithoutAck(t *testing.T) {
	h := newHarness(t)
	c := h.connect()
	if err := c.c.Emit("create", "messages", map[string]any{"text": "fire and forget"}, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	if err := c.c.Emit("get", "nowhere", 1.0, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(wait)
	for {
		if got := c.ok("find", "messages", map[string]any{}); len(got.([]any)) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call without ack did not run")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Service events go through the channel publisher: by default anonymous
// connections get nothing, authenticated ones what has no userId, a
// user's own connections what names them.
func TestServiceEventsThroughChannels(t *testing.T) {
	h := newHarness(t)
	anon, alice, bob := h.connect(), h.connect(), h.connect()
	alice.ok("create", "authentication", map[string]any{"strategy": "local", "token": "alice-token"}, map[string]any{})
	bob.ok("create", "authentication", map[string]any{"strategy": "local", "token": "bob-token"}, map[string]any{})
	anon.fails(401, "NotAuthenticated", "not-authenticated", "Invalid login", "create", "authentication", map[string]any{"token": "x"}, map[string]any{})

	q := map[string]any{}
	anon.ok("create", "messages", map[string]any{"text": "for everyone logged in"}, q)
	alice.ok("create", "messages", map[string]any{"text": "for bob", "userId": "bob"}, q)
	bob.ok("patch", "messages", 1.0, map[string]any{"text": "patched"}, q)
	bob.ok("update", "messages", 2.0, map[string]any{"text": "bob only", "userId": "bob"}, q)
	alice.ok("remove", "messages", 1.0, q)

	want := map[*conn][]string{
		anon:  nil,
		alice: {"created 1 for everyone logged in", "patched 1 patched", "removed 1 patched"},
		bob:   {"created 1 for everyone logged in", "created 2 for bob", "patched 1 patched", "updated 2 bob only", "removed 1 patched"},
	}
	// A marker to everyone orders the check after the events.
	if _, err := h.srv.Broadcast("marker"); err != nil {
		t.Fatal(err)
	}
	for c, w := range want {
		deadline := time.Now().Add(wait)
		for len(c.events()) < len(w) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		if got := c.events(); !slices.Equal(got, w) {
			t.Errorf("received %q, want %q", got, w)
		}
	}
}

// A multi-record result publishes one event per record; App.Publish
// routes one service's events; CallOf tells a publisher who called.
func TestPublishPerRecordAndPerService(t *testing.T) {
	h := newHarness(t)
	anon, other := h.connect(), h.connect()
	q := map[string]any{}
	var mu sync.Mutex
	var calls []string
	h.app.Publish("messages", func(ctx context.Context, event string, data any) []string {
		call, ok := services.CallOf(ctx)
		mu.Lock()
		calls = append(calls, fmt.Sprintf("%s %s/%s %v", event, call.Path, call.Method, ok))
		mu.Unlock()
		return []string{channels.Anonymous}
	})
	anon.ok("create", "messages", map[string]any{"text": "a"}, q)
	anon.ok("create", "messages", map[string]any{"text": "b"}, q)
	other.ok("patch", "messages", nil, map[string]any{"text": "z"}, q)
	w := []string{"created 1 a", "created 2 b", "patched 1 z", "patched 2 z"}
	for _, c := range []*conn{anon, other} {
		deadline := time.Now().Add(wait)
		for len(c.events()) < len(w) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := c.events(); !slices.Equal(got, w) {
			t.Errorf("received %q, want %q", got, w)
		}
	}
	mu.Lock()
	seen := slices.Clone(calls)
	mu.Unlock()
	if want := []string{"messages created messages/create true", "messages created messages/create true", "messages patched messages/patch true", "messages patched messages/patch true"}; !slices.Equal(seen, want) {
		t.Errorf("publisher saw %q, want %q", seen, want)
	}
	// Emit from Go: a typed slice is one event per element.
	n, err := h.app.Emit(context.Background(), "messages", services.Removed, []message{{ID: 7, Text: "x"}, {ID: 8, Text: "y"}})
	if err != nil || n != 4 {
		t.Fatalf("Emit: %d %v", n, err)
	}
	if n, err := h.app.Emit(context.Background(), "messages", services.Removed, nil); err != nil || n != 0 {
		t.Fatalf("Emit nil: %d %v", n, err)
	}
}

func TestUse(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct {
		path string
		svc  any
		want error
	}{
		{"messages", readOnly{}, services.ErrPathInUse},
		{"/messages", readOnly{}, services.ErrPathInUse},
		{"", readOnly{}, services.ErrInvalidPath},
		{"//", readOnly{}, services.ErrInvalidPath},
		{"two words", readOnly{}, services.ErrInvalidPath},
		{strings.Repeat("p", 250), readOnly{}, services.ErrInvalidPath},
		{"nothing", struct{}{}, services.ErrNoMethods},
		{"api/v1/things", readOnly{}, nil},
	} {
		if err := h.app.Use(tt.path, tt.svc); !errors.Is(err, tt.want) {
			t.Errorf("Use(%q): %v, want %v", tt.path, err, tt.want)
		}
	}
	if _, ok := h.app.Service("/api/v1/things/"); !ok {
		t.Error("Service does not trim slashes")
	}
}

func TestID(t *testing.T) {
	for _, tt := range []struct {
		v    any
		s    string
		n    int64
		isN  bool
		null bool
	}{
		{"abc", "abc", 0, false, false},
		{"42", "42", 42, true, false},
		{42.0, "42", 42, true, false},
		{int64(-3), "-3", -3, true, false},
		{uint16(7), "7", 7, true, false},
		{1.5, "1.5", 0, false, false},
		{nil, "", 0, false, true},
	} {
		id := services.NewID(tt.v)
		n, isN := id.Int()
		if id.String() != tt.s || n != tt.n || isN != tt.isN || id.IsNull() != tt.null || id.Value() != tt.v {
			t.Errorf("%v: String %q Int %d %v IsNull %v", tt.v, id.String(), n, isN, id.IsNull())
		}
	}
}

func TestDataDecodeIsStrict(t *testing.T) {
	var m message
	if err := services.NewData(map[string]any{"text": "x", "id": 3.0}).Decode(&m); err != nil || m != (message{ID: 3, Text: "x"}) {
		t.Fatalf("%+v %v", m, err)
	}
	err := services.NewData(map[string]any{"text": "x", "colour": "red"}).Decode(&m)
	var fe *services.Error
	if !errors.As(err, &fe) || fe.Code != services.BadRequest || !strings.Contains(fe.Message, "colour") {
		t.Fatalf("unknown field: %v", err)
	}
}

func TestErrorNames(t *testing.T) {
	for code, want := range map[int][2]string{404: {"NotFound", "not-found"}, 422: {"Unprocessable", "unprocessable"}, 429: {"TooManyRequests", "too-many-requests"}, 999: {"GeneralError", "general-error"}} {
		e := services.NewError(code, "x %d", 1)
		if e.Name() != want[0] || e.ClassName() != want[1] || e.Message != "x 1" {
			t.Errorf("%d: %s %s %q", code, e.Name(), e.ClassName(), e.Message)
		}
	}
	if got := services.NewError(999, "m").Error(); got != "services: GeneralError (500): m" {
		t.Errorf("Error() = %q", got)
	}
}
