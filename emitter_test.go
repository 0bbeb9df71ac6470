package allspark_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// emitterServer is eventServer plus hooks that report what reached the
// data handlers and a spark for the test to drive.
func emitterServer(t *testing.T, opts allspark.Options) (*allspark.Server, string, chan any, chan *allspark.Spark) {
	t.Helper()
	data := make(chan any, 16)
	sparks := make(chan *allspark.Spark, 4)
	srv, base := startServer(t, opts, func(srv *allspark.Server) {
		eventServer(srv)
		srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnData(func(v any) { data <- v })
			sparks <- sp
			return nil
		})
	})
	return srv, base, data, sparks
}

// expectJSON reads the next frame and compares it with want as JSON
// values, so key order does not matter.
func (c *wsClient) expectJSON(want string) {
	c.t.Helper()
	got := c.next().text
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		c.t.Fatalf("got %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		c.t.Fatalf("want %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		c.t.Fatalf("got %s, want %s", got, want)
	}
}

// A client speaking primus-emitter calls the server's handlers and gets
// its acks as emitter acks; failures are answered in the same dialect.
func TestEmitterEventsAndAcksFromTheClient(t *testing.T) {
	_, base, _, _ := emitterServer(t, allspark.Options{})
	c := dial(t, base, "/primus", nil)
	c.sendText(`{"type":0,"data":["add",{"a":2,"b":3}],"id":1}`)
	c.expect(`{"type":1,"data":[5],"id":1}`)
	c.sendText(`{"type":0,"data":["echo","x",[1,2],{"k":null}],"id":2}`)
	c.expect(`{"type":1,"data":["x",[1,2],{"k":null}],"id":2}`)
	c.sendText(`{"type":0,"data":["fail"],"id":3}`)
	c.expect(`{"type":1,"data":[{"error":{"code":"handler_error","message":"it broke","event":"fail"}}],"id":3}`)
	c.sendText(`{"type":0,"data":["add",{"a":"x"}],"id":4}`)
	c.expectJSON(`{"type":1,"data":[{"error":{"code":"invalid_argument","message":"argument 1: field \"a\": got string, want int","event":"add"}}],"id":4}`)
	// Without an id, a failure is an error report: the event allspark:error.
	c.sendText(`{"type":0,"data":["no-such-event"]}`)
	c.expect(`{"type":0,"data":["allspark:error",{"code":"unknown_event","message":"no handler for event","event":"no-such-event"}]}`)
	c.sendText(`{"type":0,"data":["open"],"id":5}`)
	c.expect(`{"type":1,"data":[{"error":{"code":"reserved_event","message":"event name is reserved","event":"open"}}],"id":5}`)
	// An event without an id that succeeds gets nothing back.
	c.sendText(`{"type":0,"data":["echo","quiet"]}`)
	c.sendText(`{"type":0,"data":["add",{"a":1,"b":1}],"id":6}`)
	c.expect(`{"type":1,"data":[2],"id":6}`)
}

// The server's Emit and EmitWithAck reach an emitter client as emitter
// packets once it spoke the dialect; before, it gets our envelopes. Plain
// data is plain data in both dialects.
func TestEmitterServerEventsAndAcks(t *testing.T) {
	_, base, data, sparks := emitterServer(t, allspark.Options{PingInterval: allspark.NoPing})
	c := dial(t, base, "/primus", nil)
	sp := nextSpark(t, sparks)
	if err := sp.Emit("hello", 1); err != nil {
		t.Fatal(err)
	}
	c.expect(`{"allspark":1,"event":"hello","args":[1]}`)
	c.sendText(`{"type":0,"data":["echo"],"id":1}`)
	c.expect(`{"type":1,"data":[],"id":1}`)
	if err := sp.Emit("hello", 2, "two"); err != nil {
		t.Fatal(err)
	}
	c.expect(`{"type":0,"data":["hello",2,"two"]}`)
	if err := sp.Write(map[string]any{"plain": true}); err != nil {
		t.Fatal(err)
	}
	c.expect(`{"plain":true}`)

	replies := make(chan *allspark.Reply, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		r, err := sp.EmitWithAck(ctx, "question", "6x7")
		if err != nil {
			t.Error(err)
		}
		replies <- r
	}()
	c.expect(`{"type":0,"data":["question","6x7"],"id":1}`)
	c.sendText(`{"type":1,"id":1,"data":[42,"sure"]}`)
	if r := <-replies; r == nil || !reflect.DeepEqual(r.Args, []any{42.0, "sure"}) {
		t.Fatalf("reply %+v", r)
	}
	// A late or unknown ack is dropped; plain data still reaches OnData,
	// also when it is shaped almost like a packet.
	c.sendText(`{"type":1,"id":99,"data":[]}`)
	c.sendText(`{"type":0,"data":["x"],"extra":true}`)
	select {
	case v := <-data:
		if !reflect.DeepEqual(v, map[string]any{"type": 0.0, "data": []any{"x"}, "extra": true}) {
			t.Fatalf("data %v", v)
		}
	case <-time.After(waitLong):
		t.Fatal("plain data lost")
	}
}

// A handler that asks the emitter client a question while handling its
// event: both directions' ids in flight at once, in one dialect.
func TestEmitterNestedRequest(t *testing.T) {
	_, base, _, _ := emitterServer(t, allspark.Options{})
	c := dial(t, base, "/primus", nil)
	c.sendText(`{"type":0,"data":["ask","name?"],"id":7}`)
	c.expect(`{"type":0,"data":["question","name?"],"id":1}`)
	c.sendText(`{"type":1,"id":1,"data":["Ada"]}`)
	c.expect(`{"type":1,"data":["Ada"],"id":7}`)
}

// The dialect is the one the client used last: an envelope switches a
// spark back to envelopes.
func TestEmitterDialectFollowsTheClient(t *testing.T) {
	_, base, _, sparks := emitterServer(t, allspark.Options{})
	c := dial(t, base, "/primus", nil)
	sp := nextSpark(t, sparks)
	c.sendText(`{"type":0,"data":["echo"],"id":1}`)
	c.expect(`{"type":1,"data":[],"id":1}`)
	c.sendText(`{"allspark":1,"event":"echo","args":["e"],"id":2}`)
	c.expect(`{"allspark":1,"ack":2,"args":["e"]}`)
	if err := sp.Emit("after"); err != nil {
		t.Fatal(err)
	}
	c.expect(`{"allspark":1,"event":"after","args":[]}`)
	c.sendText(`{"type":0,"data":["echo"],"id":3}`)
	c.expect(`{"type":1,"data":[],"id":3}`)
	if err := sp.Emit("again"); err != nil {
		t.Fatal(err)
	}
	c.expect(`{"type":0,"data":["again"]}`)
}

// Disabled: emitter packets are plain data and nothing is framed.
func TestEmitterDisabled(t *testing.T) {
	_, base, data, sparks := emitterServer(t, allspark.Options{Emitter: allspark.EmitterOptions{Disabled: true}})
	c := dial(t, base, "/primus", nil)
	sp := nextSpark(t, sparks)
	c.sendText(`{"type":0,"data":["add",{"a":2,"b":3}],"id":1}`)
	select {
	case v := <-data:
		if m, ok := v.(map[string]any); !ok || m["type"] != 0.0 {
			t.Fatalf("data %v", v)
		}
	case <-time.After(waitLong):
		t.Fatal("the packet did not reach OnData")
	}
	if err := sp.Emit("hello"); err != nil {
		t.Fatal(err)
	}
	c.expect(`{"allspark":1,"event":"hello","args":[]}`)
}

// Default: a spark speaks the dialect from its start, until its client
// sends an envelope.
func TestEmitterDefault(t *testing.T) {
	_, base, _, sparks := emitterServer(t, allspark.Options{Emitter: allspark.EmitterOptions{Default: true}})
	c := dial(t, base, "/primus", nil)
	sp := nextSpark(t, sparks)
	if err := sp.Emit("welcome", "in"); err != nil {
		t.Fatal(err)
	}
	c.expect(`{"type":0,"data":["welcome","in"]}`)
	c.sendText(`{"allspark":1,"event":"echo","args":[],"id":1}`)
	c.expect(`{"allspark":1,"ack":1,"args":[]}`)
	if err := sp.Emit("welcome", "out"); err != nil {
		t.Fatal(err)
	}
	c.expect(`{"allspark":1,"event":"welcome","args":["out"]}`)
}

// One room Emit reaches an emitter client as a packet and an envelope
// client as an envelope; a room Write is the same plain data for both.
func TestEmitterRoomBroadcastMixed(t *testing.T) {
	srv, base, _, sparks := emitterServer(t, allspark.Options{PingInterval: allspark.NoPing})
	em := dial(t, base, "/primus", nil)
	spEm := nextSpark(t, sparks)
	env := dial(t, base, "/primus", nil)
	spEnv := nextSpark(t, sparks)
	for _, sp := range []*allspark.Spark{spEm, spEnv} {
		if err := sp.Join("lobby"); err != nil {
			t.Fatal(err)
		}
	}
	em.sendText(`{"type":0,"data":["echo"],"id":1}`)
	em.expect(`{"type":1,"data":[],"id":1}`)
	if n, err := srv.Room("lobby").Emit("news", map[string]any{"text": "hi"}); err != nil || n != 2 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if n, err := srv.Room("lobby").Write("plain"); err != nil || n != 2 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	em.expect(`{"type":0,"data":["news",{"text":"hi"}]}`)
	em.expect(`"plain"`)
	env.expect(`{"allspark":1,"event":"news","args":[{"text":"hi"}]}`)
	env.expect(`"plain"`)
}
