package sio

import (
	"testing"

	"github.com/allspark/allspark/internal/events"
	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/parser"
)

func jsonFraming() Framing { return Framing{JSON: true, Decode: parser.JSON{}.Decode} }

func encodeJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, _, err := parser.JSON{}.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFrameTurnsEveryKindOfMessageIntoItsPacket(t *testing.T) {
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"data", "hi", `2["message","hi"]`},
		{"object data", map[string]any{"a": 1}, `2["message",{"a":1}]`},
		{"event", events.NewEvent("chat", []any{"x", 2}, 0), `2["chat","x",2]`},
		{"event without args", events.NewEvent("tick", nil, 0), `2["tick"]`},
		{"server request", events.NewEvent("ask", []any{1}, 7), `27["ask",1]`},
		{"awkward name and args", events.NewEvent(`a"b\`, []any{`],"id":3}`, []any{1}}, 4), `24["a\"b\\","],\"id\":3}",[1]]`},
		{"reply to the client's request 0", events.NewAck(1, []any{"ok"}), `30["ok"]`},
		{"reply with no args", events.NewAck(5, nil), `34[]`},
		{"ack error", events.NewFailure(3, events.ErrorBody{Code: "unknown_event", Message: "no handler", Event: "x"}),
			`32[{"error":{"code":"unknown_event","message":"no handler","event":"x"}}]`},
		{"report", events.NewFailure(0, events.ErrorBody{Code: "unknown_event", Message: "no handler", Event: "x"}),
			`2["allspark:error",{"code":"unknown_event","message":"no handler","event":"x"}]`},
	}
	p := NewProtocol(jsonFraming())
	for _, c := range cases {
		m := transport.Message{Payload: encodeJSON(t, c.v)}
		got, multi := m.FrameFor(p)
		if multi || string(got) != c.want {
			t.Errorf("%s: frame %q (multi %v), want %q", c.name, got, multi, c.want)
		}
		// The value path (MessagePack servers, values with binary) must
		// agree with the JSON fast path.
		vm := transport.Message{Payload: m.Payload, Value: c.v}
		if got2, _ := vm.FrameFor(p); string(got2) != c.want {
			t.Errorf("%s: value path %q, want %q", c.name, got2, c.want)
		}
	}
}

func TestFrameControlMessages(t *testing.T) {
	p := NewProtocol(jsonFraming())
	for ctrl, want := range map[transport.Control]string{transport.Ping: "", transport.IDAnswer: "", transport.ServerClose: "1"} {
		m := transport.Message{Payload: []byte(`"primus::x"`), Control: ctrl}
		if got, _ := m.FrameFor(p); string(got) != want {
			t.Errorf("control %d: %q, want %q", ctrl, got, want)
		}
	}
}

func TestFrameSendsRawBytesAsAttachments(t *testing.T) {
	p := NewProtocol(jsonFraming())
	v := events.NewEvent("file", []any{"name", []byte{1, 2}, map[string]any{"thumb": []byte{3}}}, 0)
	m := transport.Message{Payload: encodeJSON(t, v), Value: v}
	frame, multi := m.FrameFor(p)
	if !multi {
		t.Fatalf("not multi-part: %q", frame)
	}
	var parts []string
	var bins []bool
	unpackMulti(frame, func(part []byte, binary bool) { parts = append(parts, string(part)); bins = append(bins, binary) })
	if len(parts) != 3 || bins[0] || !bins[1] || !bins[2] {
		t.Fatalf("parts %q binary %v", parts, bins)
	}
	if parts[0] != `52-["file","name",{"_placeholder":true,"num":0},{"thumb":{"_placeholder":true,"num":1}}]` {
		t.Errorf("packet %q", parts[0])
	}
	if parts[1] != "\x01\x02" || parts[2] != "\x03" {
		t.Errorf("attachments %q", parts[1:])
	}
	// A binary frame of the parser (a Write of parser.Binary) is the
	// message event's one attachment.
	bm := transport.Message{Payload: []byte{9}, Binary: true}
	frame, multi = bm.FrameFor(p)
	parts = parts[:0]
	unpackMulti(frame, func(part []byte, binary bool) { parts = append(parts, string(part)) })
	if !multi || len(parts) != 2 || parts[0] != `51-["message",{"_placeholder":true,"num":0}]` || parts[1] != "\x09" {
		t.Errorf("binary write: %q", parts)
	}
}

func TestFrameOnAMessagePackServer(t *testing.T) {
	mp := parser.MsgPack{}
	p := NewProtocol(Framing{Decode: mp.Decode})
	payload, bin, err := mp.Encode(events.NewEvent("chat", []any{"x", 1}, 0))
	if err != nil {
		t.Fatal(err)
	}
	m := transport.Message{Payload: payload, Binary: bin}
	if got, multi := m.FrameFor(p); multi || string(got) != `2["chat","x",1]` {
		t.Errorf("frame %q multi %v", got, multi)
	}
}

func TestSharedFrameIsMadeOnce(t *testing.T) {
	p := NewProtocol(jsonFraming())
	m := transport.Message{Payload: []byte(`"hi"`), Shared: new(transport.Shared)}
	a, _ := m.FrameFor(p)
	b, _ := m.FrameFor(p)
	if &a[0] != &b[0] {
		t.Error("the shared frame was made twice")
	}
}

func BenchmarkFrameEventJSON(b *testing.B) {
	p := NewProtocol(jsonFraming())
	payload, _, _ := parser.JSON{}.Encode(events.NewEvent("chat", []any{"hello there", 42}, 0))
	b.ReportAllocs()
	for b.Loop() {
		m := transport.Message{Payload: payload}
		m.FrameFor(p)
	}
}

func BenchmarkFrameDataJSON(b *testing.B) {
	p := NewProtocol(jsonFraming())
	payload := []byte(`{"user":"ann","text":"hello there"}`)
	b.ReportAllocs()
	for b.Loop() {
		m := transport.Message{Payload: payload}
		m.FrameFor(p)
	}
}

func BenchmarkFrameAckJSON(b *testing.B) {
	p := NewProtocol(jsonFraming())
	payload, _, _ := parser.JSON{}.Encode(events.NewAck(7, []any{"hello there"}))
	b.ReportAllocs()
	for b.Loop() {
		m := transport.Message{Payload: payload}
		m.FrameFor(p)
	}
}
