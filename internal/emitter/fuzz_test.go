package emitter_test

import (
	"bytes"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/allspark/allspark/internal/emitter"
	"github.com/allspark/allspark/internal/events"
	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/parser"
)

// FuzzParse: any JSON text is a packet or plain data, never a panic; a
// packet keeps the bounds (a name of 1 to MaxNameLen bytes, ack ids above
// 0), and the packet written back for its envelope reads as the same
// envelope.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"type":0,"data":["a",1,{"b":[2]}],"id":2}`, `{"type":1,"id":2,"data":[null,"x"]}`,
		`{"type":0,"data":[""]}`, `{"type":1,"data":[]}`, `{"type":0,"data":["a"],"id":1e300}`, `[0]`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		v, err := parser.JSON{}.Decode(text, false)
		if err != nil {
			return
		}
		env, ok := emitter.Parse(v)
		if !ok {
			return
		}
		switch env.Kind {
		case events.Event:
			if env.Name == "" || len(env.Name) > events.MaxNameLen {
				t.Fatalf("accepted the name %q", env.Name)
			}
		case events.Ack:
			if env.ID == 0 {
				t.Fatal("an ack without id")
			}
		default:
			t.Fatalf("kind %v", env.Kind)
		}
		out, _, err := parser.JSON{}.Encode(emitter.FromEnvelope(env))
		if err != nil {
			t.Fatal(err)
		}
		back, ok := emitter.Parse(decode(t, string(out)))
		if !ok || back.Kind != env.Kind || back.Name != env.Name || back.ID != env.ID || !sameArgs(back.Args, env.Args) {
			t.Fatalf("%s → %+v, written back as %s → %+v", text, env, out, back)
		}
	})
}

func sameArgs(a, b []any) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(a, b)
}

// FuzzFrame: the sliced fast path frames events and acks exactly as the
// value path does (decode, build the packet, encode), whatever the name,
// arguments and id hold; ack errors and reports, which always take the
// value path, come out as packets too.
func FuzzFrame(f *testing.F) {
	f.Add(uint8(0), "chat", "hello", uint64(0))
	f.Add(uint8(0), `a"b\`, `],"id":3}`, uint64(7))
	f.Add(uint8(1), "x", "]}", uint64(1<<53-1))
	f.Add(uint8(2), "ü", "\u2028<&>", uint64(3))
	f.Add(uint8(3), "e", "", uint64(0))
	js := parser.JSON{}
	fast := emitter.NewProtocol(emitter.Framing{JSON: true, Decode: js.Decode, Encode: js.Encode})
	slow := emitter.NewProtocol(emitter.Framing{Decode: js.Decode, Encode: js.Encode})
	f.Fuzz(func(t *testing.T, kind uint8, name, arg string, id uint64) {
		// A name that is not UTF-8 grows when decoded (each bad byte
		// becomes U+FFFD), past what events.Parse accepts: the value path
		// then sends the envelope as is. Names are the application's own
		// Go strings; only arguments come from anywhere.
		if name == "" || len(name) > events.MaxNameLen || !utf8.ValidString(name) || id > 1<<53-1 {
			return
		}
		args := []any{arg, []any{arg, map[string]any{"k": arg}}}
		var v any
		switch kind % 4 {
		case 0:
			v = events.NewEvent(name, args, id)
		case 1:
			if id == 0 {
				return
			}
			v = events.NewAck(id, args)
		case 2:
			if id == 0 {
				return
			}
			v = events.NewFailure(id, events.ErrorBody{Code: name, Message: arg})
		default:
			v = events.NewFailure(0, events.ErrorBody{Code: name, Message: arg, Event: name})
		}
		payload, _, err := js.Encode(v)
		if err != nil {
			return
		}
		a := transport.Message{Payload: payload}
		b := transport.Message{Payload: payload}
		fa, _ := a.FrameFor(fast)
		fb, _ := b.FrameFor(slow)
		pv, err := js.Decode(fa, false)
		if err != nil {
			t.Fatalf("%s: %v", fa, err)
		}
		if !bytes.Equal(fa, fb) {
			// Invalid UTF-8 is written as \ufffd by the encoder and as the
			// character itself once decoded: equal values, other bytes.
			qv, _ := js.Decode(fb, false)
			if utf8.ValidString(arg) || !reflect.DeepEqual(pv, qv) {
				t.Fatalf("fast %s\nvalue path %s", fa, fb)
			}
		}
		m, ok := pv.(map[string]any)
		if !ok || m["type"] == nil || m["data"] == nil {
			t.Fatalf("%s is not a packet", fa)
		}
	})
}
