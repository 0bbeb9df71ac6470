package sse_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/allspark/allspark/internal/sse"
	"github.com/allspark/allspark/internal/transport"
)

// FuzzEventRoundTrip: whatever the stream, name and data, what a client
// parses from the encoded event is that event: its id, its type, and its
// data with every line break turned into LF; and an id the client holds
// reads back as the id that was written.
func FuzzEventRoundTrip(f *testing.F) {
	f.Add("Vt-B_9", uint64(1), "", `{"a":1}`)
	f.Add("s", uint64(42), "chat", "two\nlines\r\nand\rmore")
	f.Add("a:b", uint64(1<<64-1), "x y", "")
	f.Add("s", uint64(0), "e", "\r\n\n")
	f.Fuzz(func(t *testing.T, stream string, seq uint64, name, data string) {
		id := sse.ID{Stream: stream, Seq: seq, End: seq == 0}
		text := id.String()
		if !sse.ValidName(name) || !sse.ValidID(text) {
			return // the server never writes these (it checks both first)
		}
		wire := sse.AppendID(nil, text)
		wire = sse.AppendEvent(wire, name, []byte(data))
		evs, last := parseStream(wire)
		want := strings.ReplaceAll(strings.ReplaceAll(data, "\r\n", "\n"), "\r", "\n")
		if len(evs) != 1 || evs[0].Type != name || evs[0].Data != want || evs[0].ID != text {
			t.Fatalf("%q parses as %+v, want one event {%q %q %q}", wire, evs, text, name, want)
		}
		if last != text {
			t.Fatalf("last event id %q, want %q", last, text)
		}
		if stream == "" || len(text) > sse.MaxIDLen {
			return
		}
		got, ok := sse.ParseID(last)
		if !ok || got != id {
			t.Fatalf("ParseID(%q) = %+v, %v; want %+v", last, got, ok, id)
		}
	})
}

// FuzzLastEventID: ParseID never panics, accepts only what it can write
// back byte for byte, and a valid id's event field round-trips.
func FuzzLastEventID(f *testing.F) {
	for _, s := range []string{"abc:1", "abc:end", "a:b:9", ":1", "abc:01", "abc:18446744073709551616", "x\x00:1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := sse.ParseID(s)
		if !ok {
			return
		}
		if id.String() != s {
			t.Fatalf("ParseID(%q) = %+v, which writes %q", s, id, id.String())
		}
		if id.Stream == "" || (id.Seq == 0) != id.End || len(s) > sse.MaxIDLen {
			t.Fatalf("ParseID(%q) accepted %+v", s, id)
		}
		if _, last := parseStream(sse.AppendID(nil, s)); last != s {
			t.Fatalf("id field of %q reads back as %q", s, last)
		}
	})
}

// FuzzFrame: any message, envelope-shaped or not, is framed as exactly one
// event a client can parse, whose data is the payload (or, for a named
// event, valid JSON).
func FuzzFrame(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"allspark":1,"event":"chat","args":[{"t":"hi"}]}`, `{"allspark":1,"event":"m","args":[1,2]}`,
		`{"allspark":1,"ack":2,"args":[]}`, "{\"allspark\":1,\"event\":\"e\",\"args\":[\"a\\nb\",\n3]}", `{"allspark":1,"event":"x","args":"no"}`, "line\r\nbreaks"} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte{0, 1, 2}, true)
	p := sse.NewServer(sse.Config{}, nil).Protocol()
	f.Fuzz(func(t *testing.T, payload []byte, binary bool) {
		m := transport.Message{Payload: payload, Binary: binary}
		frame, _ := m.FrameFor(p)
		evs, _ := parseStream(frame)
		if len(evs) != 1 {
			t.Fatalf("%q framed as %q: %d events", payload, frame, len(evs))
		}
		ev := evs[0]
		switch {
		case ev.Type != "":
			if !json.Valid([]byte(ev.Data)) {
				t.Fatalf("event %q data %q is not JSON", ev.Type, ev.Data)
			}
		case binary:
			var s string
			if json.Unmarshal([]byte(ev.Data), &s) != nil || s != base64.StdEncoding.EncodeToString(payload) {
				t.Fatalf("binary %x sent as %q", payload, ev.Data)
			}
		default:
			want := strings.ReplaceAll(strings.ReplaceAll(string(payload), "\r\n", "\n"), "\r", "\n")
			if ev.Data != want {
				t.Fatalf("data %q arrives as %q", payload, ev.Data)
			}
		}
	})
}
