package allspark_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
	"github.com/allspark/allspark/parser"
)

type sum struct {
	A int `json:"a"`
	B int `json:"b"`
}

// Validate rejects negative operands, to prove Validate runs.
func (s sum) Validate() error {
	if s.A < 0 || s.B < 0 {
		return errors.New("operands must not be negative")
	}
	return nil
}

// eventServer registers the handlers the event tests use.
func eventServer(srv *allspark.Server) {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(srv.On("echo", func(_ context.Context, ev *allspark.Event) (any, error) {
		return allspark.Args(ev.Args), nil
	}))
	must(srv.On("add", allspark.Handle(func(_ context.Context, _ *allspark.Spark, in sum) (int, error) {
		return in.A + in.B, nil
	})))
	must(srv.On("ping", allspark.Handle(func(context.Context, *allspark.Spark, struct{}) (string, error) {
		return "pong", nil
	})))
	must(srv.On("fail", func(context.Context, *allspark.Event) (any, error) {
		return nil, errors.New("it broke")
	}))
	must(srv.On("coded", func(context.Context, *allspark.Event) (any, error) {
		return nil, &allspark.EventError{Code: "quota_exceeded", Message: "too many"}
	}))
	must(srv.On("panic", func(context.Context, *allspark.Event) (any, error) {
		panic("boom")
	}))
	// ask: the server asks the client a question and acks with its answer.
	must(srv.On("ask", func(ctx context.Context, ev *allspark.Event) (any, error) {
		ctx, cancel := context.WithTimeout(ctx, waitLong)
		defer cancel()
		reply, err := ev.Spark.EmitWithAck(ctx, "question", ev.Args...)
		if err != nil {
			return nil, err
		}
		return allspark.Args(reply.Args), nil
	}))
}

func emitAck(t *testing.T, c *client.Client, event string, args ...any) (*client.Reply, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	return c.EmitWithAck(ctx, event, args...)
}

func wantCode(t *testing.T, err error, code string, text string) {
	t.Helper()
	var ce *client.CallError
	if !errors.As(err, &ce) || ce.Code != code || !strings.Contains(ce.Message, text) {
		t.Fatalf("got %v, want CallError %s containing %q", err, code, text)
	}
}

func TestEventsClientAsksServer(t *testing.T) {
	for _, p := range []parser.Parser{parser.JSON{}, parser.MsgPack{}} {
		t.Run(p.Name(), func(t *testing.T) {
			_, base := startServer(t, allspark.Options{Parser: p}, eventServer)
			c := connectPeer(t, base, "", client.Options{Parser: p}).c

			reply, err := emitAck(t, c, "echo", "x", 2, map[string]any{"k": true})
			if err != nil || len(reply.Args) != 3 {
				t.Fatalf("echo: %v %v", reply, err)
			}
			var n int
			if err := reply.Decode(1, &n); err != nil || n != 2 {
				t.Fatalf("decode: %d %v", n, err)
			}
			reply, err = emitAck(t, c, "add", sum{A: 2, B: 40})
			if err != nil {
				t.Fatal(err)
			}
			if err := reply.Decode(0, &n); err != nil || n != 42 {
				t.Fatalf("add: %d %v", n, err)
			}
			reply, err = emitAck(t, c, "ping")
			var s string
			if err != nil || reply.Decode(0, &s) != nil || s != "pong" {
				t.Fatalf("ping: %v %v", reply, err)
			}
		})
	}
}

func TestEventsValidation(t *testing.T) {
	_, base := startServer(t, allspark.Options{}, eventServer)
	c := connectPeer(t, base, "", client.Options{}).c
	cases := []struct {
		args []any
		text string
	}{
		{[]any{map[string]any{"a": "1", "b": 2}}, `field "a"`},
		{[]any{map[string]any{"a": 1, "b": 2, "c": 3}}, `unknown field "c"`},
		{[]any{}, "takes 1 argument, got 0"},
		{[]any{1, 2}, "takes 1 argument, got 2"},
		{[]any{"text"}, "got string"},
		{[]any{map[string]any{"a": -1, "b": 2}}, "must not be negative"},
	}
	for _, tc := range cases {
		_, err := emitAck(t, c, "add", tc.args...)
		wantCode(t, err, client.CodeInvalidArgument, tc.text)
	}
	_, err := emitAck(t, c, "ping", 1)
	wantCode(t, err, client.CodeInvalidArgument, "takes no arguments")
}

func TestEventsFailures(t *testing.T) {
	srv, base := startServer(t, allspark.Options{}, eventServer)
	p := connectPeer(t, base, "", client.Options{})
	c := p.c
	_, err := emitAck(t, c, "nope")
	wantCode(t, err, client.CodeUnknownEvent, "no handler")
	_, err = emitAck(t, c, "fail")
	wantCode(t, err, client.CodeHandlerError, "it broke")
	_, err = emitAck(t, c, "coded")
	wantCode(t, err, "quota_exceeded", "too many")
	_, err = emitAck(t, c, "panic")
	wantCode(t, err, client.CodeHandlerError, "internal error")

	// Without an ack, failures come back as error reports.
	if err := c.Emit("nope", 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "unknown-event report", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, e := range p.errs {
			var ce *client.CallError
			if errors.As(e, &ce) && ce.Code == client.CodeUnknownEvent && ce.Event == "nope" {
				return true
			}
		}
		return false
	})

	// Reserved names are refused locally on both sides.
	if err := srv.On("data", nil); !errors.Is(err, allspark.ErrReserved) {
		t.Fatalf("server On(data): %v", err)
	}
	if err := c.Emit("open"); !errors.Is(err, client.ErrReserved) {
		t.Fatalf("client Emit(open): %v", err)
	}
	if err := c.On("incoming::data", nil); !errors.Is(err, client.ErrReserved) {
		t.Fatalf("client On(incoming::data): %v", err)
	}
	sp, _ := srv.Spark(p.id)
	if err := sp.Emit("primus::x"); !errors.Is(err, allspark.ErrReserved) {
		t.Fatalf("spark Emit(primus::x): %v", err)
	}
	if _, err := sp.EmitWithAck(context.Background(), ""); !errors.Is(err, allspark.ErrReserved) {
		t.Fatalf("empty name: %v", err)
	}
}

// Raw peers see the exact wire answers, including to envelopes our clients
// would never send.
func TestEventsWire(t *testing.T) {
	var data []any
	var mu sync.Mutex
	_, base := startServer(t, allspark.Options{PingInterval: allspark.NoPing}, func(srv *allspark.Server) {
		eventServer(srv)
		srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnData(func(v any) {
				mu.Lock()
				data = append(data, v)
				mu.Unlock()
			})
			return nil
		})
	})
	ws := dial(t, base, "/primus", nil)
	ws.sendText(`{"allspark":1,"event":"echo","args":[1,"a"],"id":5}`)
	ws.expect(`{"allspark":1,"ack":5,"args":[1,"a"]}`)
	ws.sendText(`{"allspark":1,"event":"open","id":6}`)
	ws.expect(`{"allspark":1,"ack":6,"error":{"code":"reserved_event","message":"event name is reserved","event":"open"}}`)
	ws.sendText(`{"allspark":1,"event":"nope"}`)
	ws.expect(`{"allspark":1,"error":{"code":"unknown_event","message":"no handler for event","event":"nope"}}`)
	ws.sendText(`{"allspark":1,"event":"echo","args":"x","id":7}`)
	ws.expect(`{"allspark":1,"ack":7,"error":{"code":"bad_envelope","message":"\"args\" is not an array","event":"echo"}}`)
	ws.sendText(`{"allspark":2,"event":"echo"}`)
	ws.expect(`{"allspark":1,"error":{"code":"bad_envelope","message":"unsupported version"}}`)
	ws.sendText(`{"allspark":1,"event":"add","args":[{"a":1}],"id":9007199254740991}`)
	ws.expect(`{"allspark":1,"ack":9007199254740991,"args":[1]}`)
	// A reply nobody waits for is dropped quietly; plain data still flows.
	ws.sendText(`{"allspark":1,"ack":99,"args":[]}`)
	ws.sendText(`{"event":"not an envelope"}`)
	waitFor(t, "plain data", func() bool { mu.Lock(); defer mu.Unlock(); return len(data) == 1 })
	mu.Lock()
	defer mu.Unlock()
	if m, ok := data[0].(map[string]any); !ok || m["event"] != "not an envelope" {
		t.Fatalf("OnData got %v; envelopes must not reach it", data)
	}
}

func TestEventsServerAsksClient(t *testing.T) {
	srv, base := startServer(t, allspark.Options{}, eventServer)
	p := connectPeer(t, base, "", client.Options{})
	c := p.c
	if err := c.On("question", func(_ context.Context, ev *client.NamedEvent) (any, error) {
		var q string
		if err := ev.Decode(0, &q); err != nil {
			return nil, err
		}
		return "answer to " + q, nil
	}); err != nil {
		t.Fatal(err)
	}
	// The client asks, the server's handler asks back and waits: this only
	// works because handlers do not run on the connection's reader.
	reply, err := emitAck(t, c, "ask", "life")
	var s string
	if err != nil || reply.Decode(0, &s) != nil || s != "answer to life" {
		t.Fatalf("ask: %v %v", reply, err)
	}

	sp, _ := srv.Spark(p.id)
	ctx, cancel := context.WithTimeout(context.Background(), waitLong)
	defer cancel()
	_, err = sp.EmitWithAck(ctx, "unhandled")
	var ee *allspark.EventError
	if !errors.As(err, &ee) || ee.Code != allspark.CodeUnknownEvent {
		t.Fatalf("client without handler: %v", err)
	}
	_, err = sp.EmitWithAck(ctx, "question", 42)
	if !errors.As(err, &ee) || ee.Code != allspark.CodeInvalidArgument {
		t.Fatalf("client decode failure: %v", err)
	}
}

func TestEventsAckTimeoutAndDisconnect(t *testing.T) {
	srv, base := startServer(t, allspark.Options{}, func(srv *allspark.Server) {
		_ = srv.On("stall", func(ctx context.Context, _ *allspark.Event) (any, error) {
			<-ctx.Done() // never answers while the spark lives
			return nil, ctx.Err()
		})
	})
	p := connectPeer(t, base, "", client.Options{})
	release := make(chan struct{})
	_ = p.c.On("slow", func(ctx context.Context, _ *client.NamedEvent) (any, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	})
	sp, _ := srv.Spark(p.id)

	// Server asks, the client is too slow: timeout wrapping the context error.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := sp.EmitWithAck(ctx, "slow")
	cancel()
	var ee *allspark.EventError
	if !errors.As(err, &ee) || ee.Code != allspark.CodeTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("server-side timeout: %v", err)
	}
	close(release) // the late reply must be dropped without harm

	// Client asks, the server is too slow.
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = p.c.EmitWithAck(ctx, "stall")
	cancel()
	var ce *client.CallError
	if !errors.As(err, &ce) || ce.Code != client.CodeTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("client-side timeout: %v", err)
	}

	// The connection drops while both sides wait.
	serverSide := make(chan error, 1)
	_ = p.c.On("hang", func(ctx context.Context, _ *client.NamedEvent) (any, error) {
		<-ctx.Done()
		return nil, nil
	})
	go func() {
		_, err := sp.EmitWithAck(context.Background(), "hang")
		serverSide <- err
	}()
	clientSide := make(chan error, 1)
	go func() {
		_, err := p.c.EmitWithAck(context.Background(), "stall")
		clientSide <- err
	}()
	waitFor(t, "requests out", func() bool { return srv.Stats().MessagesIn >= 3 })
	time.Sleep(20 * time.Millisecond)
	sp.End(nil, true) // the client reconnects; both requests are lost with the spark
	select {
	case err := <-serverSide:
		if !errors.As(err, &ee) || ee.Code != allspark.CodeDisconnected || !errors.Is(err, allspark.ErrClosed) {
			t.Fatalf("server side after disconnect: %v", err)
		}
	case <-time.After(waitLong):
		t.Fatal("server-side EmitWithAck did not return on disconnect")
	}
	select {
	case err := <-clientSide:
		if !errors.As(err, &ce) || ce.Code != client.CodeDisconnected || !errors.Is(err, client.ErrDisconnected) {
			t.Fatalf("client side after disconnect: %v", err)
		}
	case <-time.After(waitLong):
		t.Fatal("client-side EmitWithAck did not return on disconnect")
	}
	if _, err := sp.EmitWithAck(context.Background(), "hang"); !errors.Is(err, allspark.ErrClosed) {
		t.Fatalf("EmitWithAck on an ended spark: %v", err)
	}
}

// Events of one spark are handled one at a time, in order.
func TestEventsOrdered(t *testing.T) {
	var mu sync.Mutex
	var seen []int
	var running, overlap int
	_, base := startServer(t, allspark.Options{}, func(srv *allspark.Server) {
		_ = srv.On("n", allspark.Handle(func(_ context.Context, _ *allspark.Spark, n int) (struct{}, error) {
			mu.Lock()
			running++
			if running > 1 {
				overlap++
			}
			seen = append(seen, n)
			mu.Unlock()
			time.Sleep(100 * time.Microsecond)
			mu.Lock()
			running--
			mu.Unlock()
			return struct{}{}, nil
		}))
	})
	c := connectPeer(t, base, "", client.Options{}).c
	const total = 600 // more than the event queue holds: the reader waits
	for i := range total {
		if err := c.Emit("n", i); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "all events", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == total })
	mu.Lock()
	defer mu.Unlock()
	for i, n := range seen {
		if n != i {
			t.Fatalf("event %d handled as #%d", n, i)
		}
	}
	if overlap > 0 {
		t.Fatalf("handlers overlapped %d times", overlap)
	}
}

// A room Emit reaches members' On handlers, encoded once.
func TestRoomEmit(t *testing.T) {
	srv, base := startServer(t, allspark.Options{}, joinRooms)
	got := make(chan string, 4)
	handler := func(name string) client.NamedHandler {
		return func(_ context.Context, ev *client.NamedEvent) (any, error) {
			var msg string
			if err := ev.Decode(0, &msg); err != nil {
				return nil, err
			}
			got <- fmt.Sprintf("%s:%s", name, msg)
			return nil, nil
		}
	}
	a := connectPeer(t, base, "rooms=r", client.Options{})
	b := connectPeer(t, base, "rooms=r", client.Options{})
	_ = a.c.On("news", handler("a"))
	_ = b.c.On("news", handler("b"))
	if n, err := srv.Room("r").Except(b.id).Emit("news", "hello"); err != nil || n != 1 {
		t.Fatalf("emit: %d %v", n, err)
	}
	select {
	case s := <-got:
		if s != "a:hello" {
			t.Fatalf("got %s", s)
		}
	case <-time.After(waitLong):
		t.Fatal("no event")
	}
	if _, err := srv.Broadcast("sync"); err != nil {
		t.Fatal(err)
	}
	b.expectExactly("b", "sync")
	if len(got) != 0 {
		t.Fatalf("excepted spark got %s", <-got)
	}
}

// Data sent after an event is handled after it, even when the event's
// handler is slow and data handlers normally run on the reader.
func TestEventsAndDataKeepOrder(t *testing.T) {
	var mu sync.Mutex
	var order []string
	record := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	_, base := startServer(t, allspark.Options{}, func(srv *allspark.Server) {
		_ = srv.On("slow", func(context.Context, *allspark.Event) (any, error) {
			time.Sleep(50 * time.Millisecond)
			record("slow event")
			return nil, nil
		})
		srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnData(func(v any) { record(fmt.Sprint(v)) })
			return nil
		})
	})
	c := connectPeer(t, base, "", client.Options{}).c
	_ = c.Write("first")
	_ = c.Emit("slow")
	_ = c.Write("second")
	_ = c.Write("third")
	waitFor(t, "all handled", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 4 })
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"first", "slow event", "second", "third"}; !slices.Equal(order, want) {
		t.Fatalf("handled %q, want %q", order, want)
	}
}
