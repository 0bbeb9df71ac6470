package services

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/channels"
	"github.com/allspark/allspark/internal/events"
)

// Method names, as Feathers clients send them.
const (
	Find   = "find"
	Get    = "get"
	Create = "create"
	Update = "update"
	Patch  = "patch"
	Remove = "remove"
)

// Service events, published as "<path> <event>".
const (
	Created = "created"
	Updated = "updated"
	Patched = "patched"
	Removed = "removed"
)

// arity is how many arguments after the path each method takes; the last
// is the query.
var arity = map[string]int{Find: 1, Get: 2, Create: 2, Update: 3, Patch: 3, Remove: 2}

// eventOf is the event a successful call publishes.
var eventOf = map[string]string{Create: Created, Update: Updated, Patch: Patched, Remove: Removed}

// Errors of App.Use.
var (
	// ErrInvalidPath: the path is empty once its slashes are trimmed,
	// holds a space (service events are "<path> <event>"), or makes an
	// event name longer than an event may be.
	ErrInvalidPath = errors.New("services: invalid service path")
	// ErrNoMethods: the value implements none of Finder, Getter, Creator,
	// Updater, Patcher, Remover.
	ErrNoMethods = errors.New("services: the value implements no service method")
	// ErrPathInUse: a service is registered at the path already.
	ErrPathInUse = errors.New("services: a service is registered at that path")
)

// App holds the services of one server and answers Feathers clients'
// calls to them. Create it with New; it is safe for concurrent use.
type App struct {
	srv *allspark.Server
	ch  *channels.Channels
	log *slog.Logger

	mu       sync.RWMutex
	services map[string]any
}

// New installs the service layer on srv: the six method names become
// event handlers of its main namespace (any handler of the same name is
// replaced). ch routes the service events and supplies Params.Identity.
func New(srv *allspark.Server, ch *channels.Channels) (*App, error) {
	a := &App{srv: srv, ch: ch, log: srv.Options().Logger, services: make(map[string]any)}
	for method := range arity {
		if err := srv.On(method, a.handler(method)); err != nil {
			return nil, fmt.Errorf("services: registering %s: %w", method, err)
		}
	}
	return a, nil
}

// cleanPath trims the slashes around a path, as Feathers does on both
// sides ("/messages/" is "messages").
func cleanPath(p string) string { return strings.Trim(p, "/") }

// Use registers svc at path. svc implements any of Finder, Getter,
// Creator, Updater, Patcher and Remover; calls of the others are answered
// MethodNotAllowed.
func (a *App) Use(path string, svc any) error {
	path = cleanPath(path)
	if path == "" || strings.ContainsAny(path, " \t\r\n") || len(path)+1+len(Updated) > events.MaxNameLen {
		return ErrInvalidPath
	}
	switch svc.(type) {
	case Finder, Getter, Creator, Updater, Patcher, Remover:
	default:
		return ErrNoMethods
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.services[path]; ok {
		return ErrPathInUse
	}
	a.services[path] = svc
	return nil
}

// Service returns the service registered at path.
func (a *App) Service(path string) (any, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	svc, ok := a.services[cleanPath(path)]
	return svc, ok
}

// Publish sets the publisher of the service's four events (created,
// updated, patched, removed), overriding the global one; nil restores it.
// It is channels.PublishEvent for each "<path> <event>".
func (a *App) Publish(path string, p channels.Publisher) {
	for _, ev := range [...]string{Created, Updated, Patched, Removed} {
		a.ch.PublishEvent(EventName(path, ev), p)
	}
}

// EventName is the name a service event travels under: "<path> <event>",
// what a Feathers client's service.on(event) listens to.
func EventName(path, event string) string { return cleanPath(path) + " " + event }

// Emit publishes a service event with data through the channels, once
// per element when data is a slice (as Feathers emits one event per record
// of a multi-record call), not at all when it is nil, and returns how many connections it was queued
// for in all. Calls from clients publish their events themselves; Emit is
// for changes made elsewhere in Go.
func (a *App) Emit(ctx context.Context, path, event string, data any) (int, error) {
	name := EventName(path, event)
	total := 0
	var first error
	each(data, func(item any) {
		res, err := a.ch.Publish(ctx, name, item)
		total += res.Delivered
		if err != nil && first == nil {
			first = err
		}
	})
	return total, first
}

// each calls fn for every element of a slice or array (not []byte), or
// for v itself unless it is nil.
func each(v any, fn func(any)) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			fn(e)
		}
		return
	case nil:
		return // no record, no event
	case []byte:
		fn(v)
		return
	}
	rv := reflect.ValueOf(v)
	if k := rv.Kind(); k != reflect.Slice && k != reflect.Array {
		fn(v)
		return
	}
	for i := range rv.Len() {
		fn(rv.Index(i).Interface())
	}
}

// Call describes the method call a publisher runs for: the service events
// of a client's call are published with a context carrying it.
type Call struct {
	Path   string
	Method string
	Params Params
}

type callKey struct{}

// CallOf returns the call whose event is being published (for a
// publisher that routes by who called), if ctx comes from one.
func CallOf(ctx context.Context) (Call, bool) {
	c, ok := ctx.Value(callKey{}).(Call)
	return c, ok
}

// handler answers one method's calls: the ack is cb(null, result) or
// cb(error). A call without an ack is run all the same, its error only
// logged.
func (a *App) handler(method string) allspark.EventHandler {
	return func(ctx context.Context, ev *allspark.Event) (any, error) {
		result, err := a.call(ctx, method, ev)
		if err != nil {
			fe := asError(err)
			if !ev.WantsAck() {
				a.log.Debug("service call failed", "method", method, "spark", ev.Spark.ID(), "err", fe)
				return nil, nil
			}
			return allspark.Args{fe.wire()}, nil
		}
		if !ev.WantsAck() {
			return nil, nil
		}
		return allspark.Args{nil, result}, nil
	}
}

// call runs one method call; a panicking method is a GeneralError.
func (a *App) call(ctx context.Context, method string, ev *allspark.Event) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("service method panicked", "method", method, "spark", ev.Spark.ID(), "panic", r)
			result, err = nil, &Error{Code: GeneralError, Message: "internal error"}
		}
	}()
	if len(ev.Args) == 0 {
		return nil, &Error{Code: NotFound, Message: "Invalid service path"}
	}
	rawPath, ok := ev.Args[0].(string)
	if !ok {
		return nil, &Error{Code: NotFound, Message: "Invalid service path"}
	}
	path := cleanPath(rawPath)
	svc, ok := a.Service(path)
	if !ok {
		return nil, NewError(NotFound, "Service '%s' not found", path)
	}
	if !implements(svc, method) {
		return nil, NewError(MethodNotAllowed, "Method '%s' not allowed on service '%s'", method, path)
	}
	args := ev.Args[1:]
	n := arity[method]
	if len(args) > n {
		return nil, NewError(BadRequest, "Too many arguments for '%s' method", method)
	}
	arg := func(i int) any {
		if i < len(args) {
			return args[i]
		}
		return nil
	}
	p := Params{Spark: ev.Spark}
	switch q := arg(n - 1).(type) {
	case nil:
		p.Query = map[string]any{}
	case map[string]any:
		p.Query = q
	default:
		return nil, NewError(BadRequest, "The query of '%s' must be an object", method)
	}
	if a.ch != nil {
		p.Identity, p.Authenticated = a.ch.Identity(ev.Spark)
	}
	var id ID
	if method != Find && method != Create {
		if id, ok = validID(arg(0)); !ok {
			return nil, NewError(BadRequest, "Invalid id for '%s': must be a string, a number or null", method)
		}
		if id.IsNull() && (method == Get || method == Update) {
			return nil, NewError(BadRequest, "id for '%s' is required", method)
		}
	}
	ctx = context.WithValue(ctx, callKey{}, Call{Path: path, Method: method, Params: p})
	switch method {
	case Find:
		result, err = svc.(Finder).Find(ctx, p)
	case Get:
		result, err = svc.(Getter).Get(ctx, id, p)
	case Create:
		result, err = svc.(Creator).Create(ctx, Data{arg(0)}, p)
	case Update:
		result, err = svc.(Updater).Update(ctx, id, Data{arg(1)}, p)
	case Patch:
		result, err = svc.(Patcher).Patch(ctx, id, Data{arg(1)}, p)
	case Remove:
		result, err = svc.(Remover).Remove(ctx, id, p)
	}
	if err != nil {
		return nil, err
	}
	if event, ok := eventOf[method]; ok {
		if _, err := a.Emit(ctx, path, event, result); err != nil {
			// Local delivery has happened (BrokerError); the call stands.
			a.log.Warn("service event not published everywhere", "event", EventName(path, event), "err", err)
		}
	}
	return result, nil
}

// implements reports whether svc has method.
func implements(svc any, method string) bool {
	var ok bool
	switch method {
	case Find:
		_, ok = svc.(Finder)
	case Get:
		_, ok = svc.(Getter)
	case Create:
		_, ok = svc.(Creator)
	case Update:
		_, ok = svc.(Updater)
	case Patch:
		_, ok = svc.(Patcher)
	case Remove:
		_, ok = svc.(Remover)
	}
	return ok
}
