package emitter_test

import (
	"reflect"
	"testing"

	"github.com/allspark/allspark/internal/emitter"
	"github.com/allspark/allspark/internal/events"
	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/parser"
)

func jsonProtocol() *transport.Protocol {
	p := parser.JSON{}
	return emitter.NewProtocol(emitter.Framing{JSON: true, Decode: p.Decode, Encode: p.Encode})
}

func msgpackProtocol() *transport.Protocol {
	p := parser.MsgPack{}
	return emitter.NewProtocol(emitter.Framing{Decode: p.Decode, Encode: p.Encode})
}

func encodeJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, _, err := parser.JSON{}.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestProtocolShape(t *testing.T) {
	p := jsonProtocol()
	if p.Slot != emitter.Slot || p.Identity() || p.OwnHeartbeat || p.Name != "primus-emitter" {
		t.Fatalf("%+v", p)
	}
}

// The envelopes the server writes become packets, byte for byte what
// primus-emitter's own client would have sent.
func TestFrameEnvelopesAsPackets(t *testing.T) {
	body := events.ErrorBody{Code: "handler_error", Message: "boom", Event: "x"}
	tests := []struct {
		v    any
		want string
	}{
		{events.NewEvent("chat", []any{"hi", map[string]any{"n": 1}}, 0), `{"type":0,"data":["chat","hi",{"n":1}]}`},
		{events.NewEvent("chat", nil, 0), `{"type":0,"data":["chat"]}`},
		{events.NewEvent("a\"b\\c", []any{"],\"id\":3}"}, 12), `{"type":0,"data":["a\"b\\c","],\"id\":3}"],"id":12}`},
		{events.NewEvent("messages created", []any{map[string]any{"id": 1, "text": "hi"}}, 9007199254740991), `{"type":0,"data":["messages created",{"id":1,"text":"hi"}],"id":9007199254740991}`},
		{events.NewAck(5, []any{nil, []any{1, 2}}), `{"type":1,"data":[null,[1,2]],"id":5}`},
		{events.NewAck(5, nil), `{"type":1,"data":[],"id":5}`},
		{events.NewFailure(5, body), `{"type":1,"data":[{"error":{"code":"handler_error","message":"boom","event":"x"}}],"id":5}`},
		{events.NewFailure(0, body), `{"type":0,"data":["allspark:error",{"code":"handler_error","message":"boom","event":"x"}]}`},
	}
	p := jsonProtocol()
	for _, tt := range tests {
		m := transport.Message{Payload: encodeJSON(t, tt.v)}
		got, binary := m.FrameFor(p)
		if binary || string(got) != tt.want {
			t.Errorf("%s\n framed %s (binary %v)\n want   %s", m.Payload, got, binary, tt.want)
		}
	}
}

// Plain data and control messages are sent as they are: the same bytes,
// not a copy.
func TestFramePlainDataAndControlAsIs(t *testing.T) {
	p := jsonProtocol()
	for _, m := range []transport.Message{
		{Payload: []byte(`{"type":0,"data":["looks","like","a packet"]}`)},
		{Payload: []byte(`"hello"`)},
		{Payload: []byte(`{"ack":1,"allspark":1,"args":[]}`)}, // a hand-built map: not the server's layout, not an envelope to sio either
		{Payload: []byte(`"primus::ping::1"`), Control: transport.Ping},
		{Payload: []byte(`"primus::server::close"`), Control: transport.ServerClose},
		{Payload: []byte{0, 1, 2}, Binary: true},
	} {
		got, binary := m.FrameFor(p)
		if &got[0] != &m.Payload[0] || binary != m.Binary {
			t.Errorf("%q: framed %q, want the payload itself", m.Payload, got)
		}
	}
}

// An envelope the fast path does not slice (another encoder's layout)
// still becomes a packet, through the value path.
func TestFrameUnusualLayoutThroughValues(t *testing.T) {
	p := jsonProtocol()
	m := transport.Message{Payload: []byte(`{"allspark":1,"args":[1],"event":"x","id":2}`)}
	got, _ := m.FrameFor(p)
	if string(got) != `{"type":0,"data":["x",1],"id":2}` {
		t.Fatalf("framed %s", got)
	}
}

func TestFrameMsgPack(t *testing.T) {
	p := msgpackProtocol()
	mp := parser.MsgPack{}
	payload, _, err := mp.Encode(events.NewEvent("chat", []any{"hi"}, 3))
	if err != nil {
		t.Fatal(err)
	}
	m := transport.Message{Payload: payload, Binary: true}
	got, binary := m.FrameFor(p)
	if !binary {
		t.Fatal("a MessagePack packet must be binary")
	}
	v, err := mp.Decode(got, true)
	if err != nil {
		t.Fatal(err)
	}
	env, ok := emitter.Parse(v)
	if !ok || env.Kind != events.Event || env.Name != "chat" || env.ID != 3 || !reflect.DeepEqual(env.Args, []any{"hi"}) {
		t.Fatalf("%v → %+v %v", v, env, ok)
	}
	plain, _, _ := mp.Encode(map[string]any{"x": 1})
	pm := transport.Message{Payload: plain, Binary: true}
	if got, _ := pm.FrameFor(p); &got[0] != &plain[0] {
		t.Fatal("MessagePack plain data was re-encoded")
	}
}

// A broadcast is framed once for every emitter receiver.
func TestSharedFrameIsMadeOnce(t *testing.T) {
	p := jsonProtocol()
	m := transport.Message{Payload: encodeJSON(t, events.NewEvent("chat", []any{"hi"}, 0)), Shared: new(transport.Shared)}
	a, _ := m.FrameFor(p)
	b, _ := m.FrameFor(p)
	if &a[0] != &b[0] {
		t.Fatal("framed twice")
	}
	if n := testing.AllocsPerRun(100, func() { m.FrameFor(p) }); n != 0 {
		t.Fatalf("%v allocations per cached frame", n)
	}
}

// BenchmarkFrameEvent is the cost paid once per broadcast of an event to
// emitter receivers (and per write to one of them).
func BenchmarkFrameEvent(b *testing.B) {
	p := jsonProtocol()
	payload := encodeJSON(b, events.NewEvent("messages created", []any{map[string]any{"id": 1, "text": "hello everyone"}}, 0))
	b.ReportAllocs()
	for range b.N {
		m := transport.Message{Payload: payload}
		m.FrameFor(p)
	}
}

// BenchmarkFramePlain is what an emitter receiver's writer pays for plain
// data: nothing.
func BenchmarkFramePlain(b *testing.B) {
	p := jsonProtocol()
	payload := []byte(`{"room":"lobby","text":"hello everyone"}`)
	b.ReportAllocs()
	for range b.N {
		m := transport.Message{Payload: payload}
		m.FrameFor(p)
	}
}
