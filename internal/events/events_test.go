package events

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/allspark/allspark/parser"
)

func decodeJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParse(t *testing.T) {
	tests := []struct {
		in       string
		envelope bool
		kind     Kind
		name     string
		id       uint64
		nargs    int
		bad      string // substring of the Malformed reason
		badID    uint64
	}{
		{in: `"hello"`},
		{in: `{"event":"chat"}`},
		{in: `[1,2]`},
		{in: `{"allspark":1,"event":"chat","args":[1,"x"]}`, envelope: true, kind: Event, name: "chat", nargs: 2},
		{in: `{"allspark":1,"event":"chat"}`, envelope: true, kind: Event, name: "chat"},
		{in: `{"allspark":1,"event":"chat","args":[],"id":7}`, envelope: true, kind: Event, name: "chat", id: 7},
		{in: `{"allspark":1,"ack":7,"args":[true]}`, envelope: true, kind: Ack, id: 7, nargs: 1},
		{in: `{"allspark":1,"ack":7,"error":{"code":"x","message":"m"}}`, envelope: true, kind: AckError, id: 7},
		{in: `{"allspark":1,"error":{"code":"unknown_event","message":"m","event":"e"}}`, envelope: true, kind: Report},
		{in: `{"allspark":2,"event":"chat"}`, envelope: true, bad: "version"},
		{in: `{"allspark":"1","event":"chat"}`, envelope: true, bad: "version"},
		{in: `{"allspark":1}`, envelope: true, bad: "neither"},
		{in: `{"allspark":1,"event":"a","ack":1}`, envelope: true, bad: "both"},
		{in: `{"allspark":1,"event":5,"id":3}`, envelope: true, bad: "event", badID: 3},
		{in: `{"allspark":1,"event":""}`, envelope: true, bad: "event"},
		{in: `{"allspark":1,"event":"` + strings.Repeat("x", 257) + `"}`, envelope: true, bad: "event"},
		{in: `{"allspark":1,"event":"a","args":{}}`, envelope: true, bad: "args"},
		{in: `{"allspark":1,"event":"a","id":0}`, envelope: true, bad: "id"},
		{in: `{"allspark":1,"event":"a","id":-1}`, envelope: true, bad: "id"},
		{in: `{"allspark":1,"event":"a","id":1.5}`, envelope: true, bad: "id"},
		{in: `{"allspark":1,"event":"a","id":9007199254740993}`, envelope: true, bad: "id"},
		{in: `{"allspark":1,"ack":"x"}`, envelope: true, bad: "ack"},
		{in: `{"allspark":1,"ack":4,"args":3}`, envelope: true, bad: "args", badID: 4},
		{in: `{"allspark":1,"ack":4,"error":"boom"}`, envelope: true, bad: "error", badID: 4},
		{in: `{"allspark":1,"error":{"message":"no code"}}`, envelope: true, bad: "code"},
	}
	for _, tt := range tests {
		env, ok, err := Parse(decodeJSON(t, tt.in))
		if ok != tt.envelope {
			t.Errorf("%s: envelope=%v, want %v", tt.in, ok, tt.envelope)
			continue
		}
		if tt.bad != "" {
			m, isM := err.(*Malformed)
			if !isM || !strings.Contains(m.Reason, tt.bad) || m.ID != tt.badID {
				t.Errorf("%s: err=%v, want Malformed containing %q with id %d", tt.in, err, tt.bad, tt.badID)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if !ok {
			continue
		}
		if env.Kind != tt.kind || env.Name != tt.name || env.ID != tt.id || len(env.Args) != tt.nargs {
			t.Errorf("%s: got %+v", tt.in, env)
		}
	}
}

// Envelopes built here must parse back through both parsers.
func TestRoundTrip(t *testing.T) {
	msgs := []any{
		NewEvent("chat", []any{"hi", 2.0}, 9),
		NewEvent("chat", nil, 0),
		NewAck(9, []any{map[string]any{"ok": true}}),
		NewFailure(9, ErrorBody{Code: CodeInvalidArgument, Message: "bad", Event: "chat"}),
		NewFailure(0, ErrorBody{Code: CodeUnknownEvent, Message: "no handler", Event: "nope"}),
	}
	kinds := []Kind{Event, Event, Ack, AckError, Report}
	for _, p := range []parser.Parser{parser.JSON{}, parser.MsgPack{}} {
		for i, m := range msgs {
			payload, bin, err := p.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			v, err := p.Decode(payload, bin)
			if err != nil {
				t.Fatal(err)
			}
			env, ok, err := Parse(v)
			if !ok || err != nil || env.Kind != kinds[i] {
				t.Fatalf("%s #%d: %+v %v %v (%s)", p.Name(), i, env, ok, err, payload)
			}
			if i == 0 && (env.ID != 9 || env.Name != "chat" || len(env.Args) != 2) {
				t.Fatalf("%s: %+v", p.Name(), env)
			}
			if i == 3 && (env.ID != 9 || env.Error.Code != CodeInvalidArgument || env.Error.Event != "chat") {
				t.Fatalf("%s: %+v", p.Name(), env)
			}
		}
	}
}

func TestReserved(t *testing.T) {
	for _, n := range []string{"open", "data", "reconnect scheduled", "incoming::data", "primus::x", "allspark::y", "readyStateChange", "drop"} {
		if !IsReserved(n) || ValidName(n) {
			t.Errorf("%q should be reserved", n)
		}
	}
	for _, n := range []string{"chat", "opened", "room:join", "Data"} {
		if IsReserved(n) || !ValidName(n) {
			t.Errorf("%q should be free", n)
		}
	}
	if ValidName("") || ValidName(strings.Repeat("a", MaxNameLen+1)) {
		t.Error("length limits")
	}
}

func TestDecode(t *testing.T) {
	type in struct {
		A int    `json:"a"`
		B string `json:"b"`
	}
	var v in
	if err := Decode(decodeJSON(t, `{"a":3,"b":"x"}`), &v); err != nil || v != (in{3, "x"}) {
		t.Fatal(v, err)
	}
	err := Decode(decodeJSON(t, `{"a":"3"}`), &v)
	if err == nil || !strings.Contains(err.Error(), `field "a"`) {
		t.Fatalf("type mismatch: %v", err)
	}
	if err := Decode(decodeJSON(t, `{"a":1,"c":2}`), &v); err == nil || !strings.Contains(err.Error(), `unknown field "c"`) {
		t.Fatalf("unknown field: %v", err)
	}
	var n int
	if err := Decode(decodeJSON(t, `1.5`), &n); err == nil {
		t.Fatal("fraction into int")
	}
	var anyv any
	if err := Decode("x", &anyv); err != nil || anyv != "x" {
		t.Fatal(anyv, err)
	}
	// MessagePack integers decode into Go ints.
	if err := Decode(int8(5), &n); err != nil || n != 5 {
		t.Fatal(n, err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"allspark":1,"event":"a","args":[1],"id":2}`, `{"allspark":1,"ack":2,"error":{"code":"x"}}`, `{"allspark":1,"error":{}}`, `3`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parser.JSON{}.Decode(b, false)
		if err != nil {
			return
		}
		env, ok, err := Parse(v)
		if err == nil && ok {
			switch env.Kind {
			case Event:
				if !(env.Name != "" && len(env.Name) <= MaxNameLen) {
					t.Fatalf("accepted bad name %q", env.Name)
				}
			case Ack, AckError:
				if env.ID == 0 {
					t.Fatal("ack without id")
				}
			}
		}
	})
}

func TestReplyArgs(t *testing.T) {
	if got := ReplyArgs(nil); got != nil {
		t.Fatalf("nil → %v", got)
	}
	if got := ReplyArgs(Several{1, "a"}); len(got) != 2 {
		t.Fatalf("Several → %v", got)
	}
	if got := ReplyArgs([]any{1, 2}); len(got) != 1 {
		t.Fatalf("a plain slice is one argument, got %v", got)
	}
	if err := DecodeArg([]any{1}, 1, new(int)); err == nil || !strings.Contains(err.Error(), "argument 2 missing") {
		t.Fatalf("missing argument: %v", err)
	}
}
