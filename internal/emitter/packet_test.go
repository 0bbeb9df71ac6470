package emitter_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/allspark/allspark/internal/emitter"
	"github.com/allspark/allspark/internal/events"
	"github.com/allspark/allspark/parser"
)

func decode(t testing.TB, text string) any {
	t.Helper()
	v, err := parser.JSON{}.Decode([]byte(text), false)
	if err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return v
}

func TestParsePackets(t *testing.T) {
	long := strings.Repeat("n", events.MaxNameLen)
	tests := []struct {
		in   string
		want events.Envelope
	}{
		{`{"type":0,"data":["chat"]}`, events.Envelope{Kind: events.Event, Name: "chat", Args: []any{}}},
		{`{"type":0,"data":["chat","hi",{"a":1}]}`, events.Envelope{Kind: events.Event, Name: "chat", Args: []any{"hi", map[string]any{"a": 1.0}}}},
		{`{"type":0,"data":["find","messages",{}],"id":3}`, events.Envelope{Kind: events.Event, Name: "find", Args: []any{"messages", map[string]any{}}, ID: 3}},
		{`{"id":3,"type":0,"data":["x"]}`, events.Envelope{Kind: events.Event, Name: "x", Args: []any{}, ID: 3}},
		{`{"type":0,"data":["` + long + `"]}`, events.Envelope{Kind: events.Event, Name: long, Args: []any{}}},
		{`{"type":0,"data":["open"]}`, events.Envelope{Kind: events.Event, Name: "open", Args: []any{}}}, // reserved: answered by the machinery
		{`{"type":1,"id":7,"data":[]}`, events.Envelope{Kind: events.Ack, ID: 7, Args: []any{}}},
		{`{"type":1,"id":7,"data":[null,{"ok":true}]}`, events.Envelope{Kind: events.Ack, ID: 7, Args: []any{nil, map[string]any{"ok": true}}}},
		{`{"type":1,"id":9007199254740991,"data":[1]}`, events.Envelope{Kind: events.Ack, ID: 1<<53 - 1, Args: []any{1.0}}},
	}
	for _, tt := range tests {
		got, ok := emitter.Parse(decode(t, tt.in))
		if !ok {
			t.Errorf("%s: not a packet", tt.in)
			continue
		}
		if got.Kind != tt.want.Kind || got.Name != tt.want.Name || got.ID != tt.want.ID || !reflect.DeepEqual(got.Args, tt.want.Args) {
			t.Errorf("%s: got %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// Values that are not exactly a packet stay plain data.
func TestParsePlainData(t *testing.T) {
	for _, in := range []string{
		`"text"`, `42`, `null`, `[0,["a"]]`, `{}`,
		`{"type":0}`,             // no data
		`{"data":["a"]}`,         // no type
		`{"type":0,"data":"a"}`,  // data not an array
		`{"type":0,"data":[]}`,   // event without a name
		`{"type":0,"data":[1]}`,  // name not a string
		`{"type":0,"data":[""]}`, // empty name
		`{"type":0,"data":["` + strings.Repeat("n", events.MaxNameLen+1) + `"]}`, // name too long
		`{"type":"0","data":["a"]}`,                     // type a string
		`{"type":0.5,"data":["a"]}`,                     // type not whole
		`{"type":2,"data":["a"]}`,                       // unknown type
		`{"type":0,"data":["a"],"extra":1}`,             // a third key that is not id
		`{"type":0,"data":["a"],"id":3,"x":1}`,          // four keys
		`{"type":0,"data":["a"],"id":0}`,                // id 0
		`{"type":0,"data":["a"],"id":-1}`,               // negative id
		`{"type":0,"data":["a"],"id":1.5}`,              // fractional id
		`{"type":0,"data":["a"],"id":"1"}`,              // id a string
		`{"type":0,"data":["a"],"id":9007199254740992}`, // id past 2^53-1
		`{"type":0,"data":["a"],"id":null}`,             // id null
		`{"type":1,"data":[1]}`,                         // ack without id
		`{"type":1,"id":"2","data":[1]}`,                // ack id a string
		`{"allspark":1,"event":"a"}`,                    // our envelope is not a packet
	} {
		if env, ok := emitter.Parse(decode(t, in)); ok {
			t.Errorf("%s: taken for a packet: %+v", in, env)
		}
	}
}

func TestParseMsgPackIntegers(t *testing.T) {
	for _, v := range []any{
		map[string]any{"type": int8(0), "data": []any{"a"}, "id": uint16(4)},
		map[string]any{"type": uint64(0), "data": []any{"a"}, "id": int64(4)},
	} {
		env, ok := emitter.Parse(v)
		if !ok || env.Kind != events.Event || env.ID != 4 {
			t.Errorf("%v: %+v %v", v, env, ok)
		}
	}
}

func TestFromEnvelope(t *testing.T) {
	body := events.ErrorBody{Code: "unknown_event", Message: "no handler", Event: "x"}
	tests := []struct {
		env  events.Envelope
		want string
	}{
		{events.Envelope{Kind: events.Event, Name: "chat", Args: []any{"hi"}}, `{"type":0,"data":["chat","hi"]}`},
		{events.Envelope{Kind: events.Event, Name: "chat", ID: 4}, `{"type":0,"data":["chat"],"id":4}`},
		{events.Envelope{Kind: events.Ack, ID: 4}, `{"type":1,"data":[],"id":4}`},
		{events.Envelope{Kind: events.Ack, ID: 4, Args: []any{nil, 2}}, `{"type":1,"data":[null,2],"id":4}`},
		{events.Envelope{Kind: events.AckError, ID: 4, Error: body}, `{"type":1,"data":[{"error":{"code":"unknown_event","message":"no handler","event":"x"}}],"id":4}`},
		{events.Envelope{Kind: events.Report, Error: body}, `{"type":0,"data":["allspark:error",{"code":"unknown_event","message":"no handler","event":"x"}]}`},
	}
	for _, tt := range tests {
		got, _, err := parser.JSON{}.Encode(emitter.FromEnvelope(tt.env))
		if err != nil || string(got) != tt.want {
			t.Errorf("%+v: %s %v, want %s", tt.env, got, err, tt.want)
		}
		if tt.env.Kind == events.Report || tt.env.Kind == events.AckError {
			continue
		}
		back, ok := emitter.Parse(decode(t, string(got)))
		if !ok || back.Kind != tt.env.Kind || back.ID != tt.env.ID || back.Name != tt.env.Name || len(back.Args) != len(tt.env.Args) {
			t.Errorf("%s reads back as %+v %v", got, back, ok)
		}
	}
}
