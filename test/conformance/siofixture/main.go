// Command siofixture is the Allspark side of the Socket.IO conformance suite
// (test/conformance/socketio.test.mjs): one allspark.Server, built with the
// public API only, serving Primus at /primus (heartbeats off) and Socket.IO at
// /socket.io/, implementing the test app that
// test/conformance/reference/socketio-server.cjs implements on npm socket.io
// 4.8.4 and primus 8.0.9. That script's header describes the app; in Go terms:
//
//   - Server.Authorize refuses a Socket.IO CONNECT whose auth.token is "bad"
//     with an *AuthError (Message "forbidden", Data {reason: "bad token"}).
//   - Namespace "/admin" has a Use middleware that wants auth.token "admin"
//     (else "unauthorized", Data {need: "admin"}); other unknown namespaces get
//     the wire's "Invalid namespace".
//   - Events are Server.On / Namespace.On handlers whose results are the acks
//     (allspark.Args for several arguments); "target" runs a Target operation
//     (Except, To, Volatile, EmitWithAck, Join, Leave, Disconnect, Sparks).
//   - Server.OnAny keeps each socket's incoming events for "anyLog".
//   - Server.OnDisconnecting (main namespace) and Spark.OnDisconnecting
//     (/admin, registered in its OnConnection hook), then the disconnection
//     hooks, report to room "watchers" with Spark.DisconnectReason.
//   - Allspark only (no reference counterpart): fail(code, message) returns
//     an *allspark.EventError, which the client gets as the ack argument
//     {error: {code, message, event}}.
//   - A Socket.IO send(x) reaches OnData; Write({got: x}) answers it. Primus
//     sparks share the main namespace's rooms; their data messages are the
//     commands {join}, {say, text}, {publish, data}, {whoami}.
//
// The first line on stdout is "LISTEN <host:port>" (-addr, default
// 127.0.0.1:0); the process exits when stdin closes.
package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/allspark/allspark"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()

	srv, err := newServer()
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("LISTEN %s\n", ln.Addr())

	// Exit when the parent closes our stdin (or dies).
	go func() {
		_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		os.Exit(0)
	}()

	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(hs.Serve(ln))
}

// app is the test app's state beside the server: the OnAny log per spark.
type app struct {
	srv   *allspark.Server
	admin *allspark.Namespace

	mu     sync.Mutex
	anyLog map[string][]map[string]any // spark id → the events it sent
}

func newServer() (*allspark.Server, error) {
	srv, err := allspark.New(allspark.Options{Pathname: "/primus", PingInterval: allspark.NoPing})
	if err != nil {
		return nil, err
	}
	a := &app{srv: srv, admin: srv.Namespace("/admin"), anyLog: make(map[string][]map[string]any)}
	srv.Authorize(authorize)
	a.admin.Use(func(h *allspark.Handshake) error {
		if token(h.Auth) == "admin" {
			return nil
		}
		return &allspark.AuthError{Message: "unauthorized", Data: map[string]any{"need": "admin"}}
	})
	for _, reg := range []func(string, allspark.EventHandler) error{srv.On, a.admin.On} {
		if err := a.common(reg); err != nil {
			return nil, err
		}
	}
	if err := a.mainEvents(); err != nil {
		return nil, err
	}
	a.hooks()
	return srv, nil
}

// token is auth.token of a CONNECT auth payload.
func token(auth any) string {
	m, _ := auth.(map[string]any)
	t, _ := m["token"].(string)
	return t
}

// authorize refuses Socket.IO CONNECTs (to any namespace) with token "bad";
// Primus requests carry no auth and pass.
func authorize(r *http.Request) error {
	if auth, ok := allspark.HandshakeAuth(r); ok && token(auth) == "bad" {
		return &allspark.AuthError{Message: "forbidden", Data: map[string]any{"reason": "bad token"}}
	}
	return nil
}

// common registers the handlers "/" and "/admin" both have.
func (a *app) common(on func(string, allspark.EventHandler) error) error {
	return register(on, map[string]allspark.EventHandler{
		"whoami": func(_ context.Context, ev *allspark.Event) (any, error) {
			return map[string]any{"id": ev.Spark.ID(), "nsp": ev.Spark.Namespace()}, nil
		},
		"echo": func(_ context.Context, ev *allspark.Event) (any, error) {
			return allspark.Args(ev.Args), nil
		},
		"join": func(_ context.Context, ev *allspark.Event) (any, error) {
			if err := ev.Spark.Join(stringArgs(ev.Args)...); err != nil {
				return nil, err
			}
			return ev.Spark.Rooms(), nil
		},
		"publish": func(_ context.Context, ev *allspark.Event) (any, error) {
			room, data := arg[string](ev.Args, 0), argAny(ev.Args, 1)
			_, err := a.srv.Namespace(ev.Spark.Namespace()).Room(room).Write(data)
			return nil, err
		},
	})
}

// mainEvents registers the handlers of "/" only.
func (a *app) mainEvents() error {
	srv := a.srv
	return register(srv.On, map[string]allspark.EventHandler{
		"types": func(_ context.Context, ev *allspark.Event) (any, error) {
			out := make([]any, len(ev.Args))
			for i, v := range ev.Args {
				out[i] = describe(v)
			}
			return out, nil
		},
		"sendBytes": func(_ context.Context, ev *allspark.Event) (any, error) {
			n := int(arg[float64](ev.Args, 0))
			if err := ev.Spark.Emit("bytes", byteSeq(n), map[string]any{"inner": byteSeq(n)}); err != nil {
				return nil, err
			}
			return byteSeq(n), nil
		},
		"tell": func(_ context.Context, ev *allspark.Event) (any, error) {
			if len(ev.Args) == 0 {
				return nil, errors.New("tell: no event name")
			}
			return nil, ev.Spark.Emit(arg[string](ev.Args, 0), ev.Args[1:]...)
		},
		"ask": func(ctx context.Context, ev *allspark.Event) (any, error) {
			if len(ev.Args) < 2 {
				return nil, errors.New("ask: want ms and an event name")
			}
			ctx, cancel := context.WithTimeout(ctx, millis(ev.Args, 0))
			defer cancel()
			reply, err := ev.Spark.EmitWithAck(ctx, arg[string](ev.Args, 1), ev.Args[2:]...)
			var ee *allspark.EventError
			switch {
			case errors.As(err, &ee) && ee.Code == allspark.CodeTimeout:
				return map[string]any{"ok": false, "timeout": true}, nil
			case err != nil:
				return map[string]any{"ok": false, "error": err.Error()}, nil
			}
			return map[string]any{"ok": true, "args": orEmpty(reply.Args)}, nil
		},
		"slow": func(ctx context.Context, ev *allspark.Event) (any, error) {
			t := time.NewTimer(millis(ev.Args, 0))
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return allspark.Args(ev.Args[1:]), nil
		},
		"leave": func(_ context.Context, ev *allspark.Event) (any, error) {
			if err := ev.Spark.Leave(stringArgs(ev.Args)...); err != nil {
				return nil, err
			}
			return ev.Spark.Rooms(), nil
		},
		"rooms": func(_ context.Context, ev *allspark.Event) (any, error) {
			return ev.Spark.Rooms(), nil
		},
		"say": func(_ context.Context, ev *allspark.Event) (any, error) {
			room, text := arg[string](ev.Args, 0), argAny(ev.Args, 1)
			_, err := srv.Room(room).Except(ev.Spark.ID()).Write(map[string]any{"from": ev.Spark.ID(), "text": text})
			return nil, err
		},
		"target": func(ctx context.Context, ev *allspark.Event) (any, error) {
			if len(ev.Args) < 2 {
				return nil, errors.New("target: want a spec and an op")
			}
			spec, _ := ev.Args[0].(map[string]any)
			return a.runTarget(ctx, spec, arg[string](ev.Args, 1), ev.Args[2:])
		},
		"kick": func(_ context.Context, ev *allspark.Event) (any, error) {
			reconnect, _ := argAny(ev.Args, 0).(bool)
			ev.Spark.End(nil, reconnect)
			return nil, nil
		},
		"fail": func(_ context.Context, ev *allspark.Event) (any, error) {
			return nil, &allspark.EventError{Code: arg[string](ev.Args, 0), Message: arg[string](ev.Args, 1)}
		},
		"anyLog": func(_ context.Context, ev *allspark.Event) (any, error) {
			a.mu.Lock()
			defer a.mu.Unlock()
			return orEmpty(a.anyLog[ev.Spark.ID()]), nil
		},
	})
}

// runTarget applies op to the target that spec selects (see
// reference/socketio-server.cjs, runTarget).
func (a *app) runTarget(ctx context.Context, spec map[string]any, op string, args []any) (any, error) {
	nsp := a.srv.Namespace("/")
	if name, ok := spec["nsp"].(string); ok && name != "" {
		nsp = a.srv.Namespace(name)
	}
	rooms, ids := stringArgs(list(spec["rooms"])), stringArgs(list(spec["to"]))
	var t allspark.Target
	switch {
	case len(rooms) > 0:
		t = nsp.Room(rooms...).To(ids...)
	case len(ids) > 0:
		t = nsp.To(ids...)
	default:
		t = nsp.All()
	}
	if except := stringArgs(list(spec["except"])); len(except) > 0 {
		t = t.Except(except...)
	}
	if v, _ := spec["volatile"].(bool); v {
		t = t.Volatile()
	}
	switch op {
	case "emit":
		if len(args) == 0 {
			return nil, errors.New("emit: no event name")
		}
		_, err := t.Emit(arg[string](args, 0), args[1:]...)
		return nil, err
	case "burst":
		n, event := int(arg[float64](args, 0)), arg[string](args, 1)
		for i := range n {
			if _, err := t.Emit(event, i); err != nil {
				return nil, err
			}
		}
		return nil, nil
	case "emitWithAck":
		if len(args) < 2 {
			return nil, errors.New("emitWithAck: want ms and an event name")
		}
		ctx, cancel := context.WithTimeout(ctx, millis(args, 0))
		defer cancel()
		replies, err := t.EmitWithAck(ctx, arg[string](args, 1), args[2:]...)
		out := map[string]any{"total": len(replies), "missing": 0, "timedOut": false}
		var te *allspark.AckTimeoutError
		switch {
		case errors.As(err, &te):
			out["total"], out["missing"], out["timedOut"] = te.Total, te.Missing, true
		case err != nil:
			return nil, err
		}
		list := make([]any, len(replies))
		for i, r := range replies {
			list[i] = map[string]any{"from": r.From, "args": orEmpty(r.Args)}
		}
		out["replies"] = list
		return out, nil
	case "join":
		return t.Join(ctx, stringArgs(args)...)
	case "leave":
		return t.Leave(ctx, stringArgs(args)...)
	case "disconnect":
		reconnect, _ := argAny(args, 0).(bool)
		return t.Disconnect(ctx, reconnect)
	case "sparks":
		sparks := t.Sparks()
		slices.SortFunc(sparks, func(x, y *allspark.Spark) int { return cmp.Compare(x.ID(), y.ID()) })
		out := make([]any, len(sparks))
		for i, sp := range sparks {
			out[i] = map[string]any{"id": sp.ID(), "rooms": sp.Rooms()}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown target op %q", op)
}

// hooks installs the connection, OnAny and disconnect hooks.
func (a *app) hooks() {
	srv := a.srv
	srv.OnAny(func(ev *allspark.Event) {
		a.mu.Lock()
		defer a.mu.Unlock()
		id := ev.Spark.ID()
		a.anyLog[id] = append(a.anyLog[id], map[string]any{"event": ev.Name, "args": orEmpty(ev.Args)})
	})
	srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		if sp.Protocol() == "socket.io" {
			sp.OnData(func(data any) { _ = sp.Write(map[string]any{"got": data}) })
		} else {
			sp.OnData(func(data any) { a.primusCommand(sp, data) })
		}
		return nil
	})
	srv.OnDisconnecting(func(sp *allspark.Spark, reason string) {
		if sp.Protocol() == "socket.io" && sp.Namespace() == "/" {
			a.gone(sp, "disconnecting", reason, sp.Rooms())
		}
	})
	srv.OnDisconnection(func(sp *allspark.Spark) {
		a.mu.Lock()
		delete(a.anyLog, sp.ID())
		a.mu.Unlock()
		if sp.Protocol() == "socket.io" && sp.Namespace() == "/" {
			a.gone(sp, "disconnect", sp.DisconnectReason(), sp.Rooms())
		}
	})
	a.admin.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		sp.OnDisconnecting(func(reason string) { a.gone(sp, "disconnecting", reason, sp.Rooms()) })
		return nil
	})
	a.admin.OnDisconnection(func(sp *allspark.Spark) {
		a.gone(sp, "disconnect", sp.DisconnectReason(), sp.Rooms())
	})
}

// gone tells room "watchers" of "/" that sp is ending (phase
// "disconnecting", rooms still joined) or has ended ("disconnect").
func (a *app) gone(sp *allspark.Spark, phase, reason string, rooms []string) {
	_, _ = a.srv.Room("watchers").Emit("gone", map[string]any{
		"id": sp.ID(), "nsp": sp.Namespace(), "phase": phase, "reason": reason, "rooms": orEmpty(rooms),
	})
}

// primusCommand runs a Primus spark's data command.
func (a *app) primusCommand(sp *allspark.Spark, data any) {
	m, _ := data.(map[string]any)
	switch {
	case m["join"] != nil:
		room, _ := m["join"].(string)
		if sp.Join(room) == nil {
			_ = sp.Write(map[string]any{"joined": room})
		}
	case m["say"] != nil:
		room, _ := m["say"].(string)
		_, _ = a.srv.Room(room).Except(sp.ID()).Write(map[string]any{"from": sp.ID(), "text": m["text"]})
	case m["publish"] != nil:
		room, _ := m["publish"].(string)
		_, _ = a.srv.Room(room).Write(m["data"])
	case m["whoami"] != nil:
		_ = sp.Write(map[string]any{"id": sp.ID()})
	}
}

// describe names v's type as the reference does: bytes, string, number,
// boolean, null, a list of names or an object of them.
func describe(v any) any {
	switch x := v.(type) {
	case []byte:
		return "bytes"
	case string:
		return "string"
	case float64, int, int64:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = describe(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = describe(e)
		}
		return out
	}
	return fmt.Sprintf("go:%T", v)
}

func register(on func(string, allspark.EventHandler) error, handlers map[string]allspark.EventHandler) error {
	for name, h := range handlers {
		if err := on(name, h); err != nil {
			return fmt.Errorf("On(%q): %w", name, err)
		}
	}
	return nil
}

// arg is args[i] as a T (its zero value when missing or of another type).
func arg[T any](args []any, i int) T {
	v, _ := argAny(args, i).(T)
	return v
}

func argAny(args []any, i int) any {
	if i < len(args) {
		return args[i]
	}
	return nil
}

// millis is args[i] read as milliseconds.
func millis(args []any, i int) time.Duration {
	return time.Duration(arg[float64](args, i) * float64(time.Millisecond))
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// stringArgs keeps the string values of vs.
func stringArgs(vs []any) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// orEmpty makes a nil slice an empty one, so it is sent as [] (not null).
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func byteSeq(n int) []byte {
	b := make([]byte, max(n, 0))
	for i := range b {
		b[i] = byte(i)
	}
	return b
}
