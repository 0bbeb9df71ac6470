package sse_test

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/allspark/allspark/internal/sse"
	"github.com/allspark/allspark/internal/transport"
)

func frameOf(t testing.TB, p *transport.Protocol, m transport.Message) string {
	t.Helper()
	f, binary := m.FrameFor(p)
	if binary {
		t.Errorf("frame of %q is binary", m.Payload)
	}
	return string(f)
}

func TestProtocol(t *testing.T) {
	p := sse.NewServer(sse.Config{}, nil).Protocol()
	if p.Name != "sse" || p.Slot != sse.Slot || !p.OwnHeartbeat || p.Identity() {
		t.Fatalf("protocol = %+v: want sse, slot 2, own heartbeat, re-framing", p)
	}
}

func TestFrameExactBytes(t *testing.T) {
	p := sse.NewServer(sse.Config{}, nil).Protocol()
	for _, c := range []struct {
		what, payload, want string
	}{
		{"data", `{"room":"lobby","text":"hi"}`, "data: {\"room\":\"lobby\",\"text\":\"hi\"}\n\n"},
		{"a string", `"hello"`, "data: \"hello\"\n\n"},
		{"pretty JSON (a json.RawMessage)", "{\n \"a\": 1\n}", "data: {\ndata:  \"a\": 1\ndata: }\n\n"},
		{"event, one argument", `{"allspark":1,"event":"chat","args":[{"text":"hi"}]}`, "event: chat\ndata: {\"text\":\"hi\"}\n\n"},
		{"event, several arguments", `{"allspark":1,"event":"move","args":[1, 2,"x"]}`, "event: move\ndata: [1, 2,\"x\"]\n\n"},
		{"event, no arguments", `{"allspark":1,"event":"ping!","args":[]}`, "event: ping!\ndata: []\n\n"},
		{"event, args absent", `{"allspark":1,"event":"bare"}`, "event: bare\ndata: []\n\n"},
		{"event, args null", `{"allspark":1,"event":"bare","args":null}`, "event: bare\ndata: []\n\n"},
		{"event asking for an ack", `{"allspark":1,"event":"q","args":["a"],"id":7}`, "event: q\ndata: \"a\"\n\n"},
		{"event from a map (sorted keys)", `{"allspark":1,"args":[true],"event":"m"}`, "event: m\ndata: true\n\n"},
		{"an ack is data", `{"allspark":1,"ack":3,"args":[]}`, "data: {\"allspark\":1,\"ack\":3,\"args\":[]}\n\n"},
		{"wrong version is data", `{"allspark":2,"event":"x","args":[]}`, "data: {\"allspark\":2,\"event\":\"x\",\"args\":[]}\n\n"},
		{"args not an array is data", `{"allspark":1,"event":"x","args":{}}`, "data: {\"allspark\":1,\"event\":\"x\",\"args\":{}}\n\n"},
		{"reserved name is data", `{"allspark":1,"event":"open","args":[]}`, "data: {\"allspark\":1,\"event\":\"open\",\"args\":[]}\n\n"},
		{"name with a line break is data", `{"allspark":1,"event":"a\nb","args":[]}`, "data: {\"allspark\":1,\"event\":\"a\\nb\",\"args\":[]}\n\n"},
		{"key in a value is data", `{"text":"\"allspark\""}`, "data: {\"text\":\"\\\"allspark\\\"\"}\n\n"},
		{"invalid JSON is data", `{"allspark":1,`, "data: {\"allspark\":1,\n\n"},
	} {
		if got := frameOf(t, p, transport.Message{Payload: []byte(c.payload)}); got != c.want {
			t.Errorf("%s: frame = %q, want %q", c.what, got, c.want)
		}
	}
}

func TestFrameBinaryIsBase64(t *testing.T) {
	p := sse.NewServer(sse.Config{}, nil).Protocol()
	got := frameOf(t, p, transport.Message{Payload: []byte{1, 2, 3, 4}, Binary: true})
	if got != "data: \"AQIDBA==\"\n\n" {
		t.Errorf("binary frame = %q", got)
	}
}

func TestFrameSkipsControls(t *testing.T) {
	p := sse.NewServer(sse.Config{}, nil).Protocol()
	for _, c := range []transport.Control{transport.Ping, transport.IDAnswer, transport.ServerClose} {
		if f, _ := (&transport.Message{Payload: []byte(`"primus::x"`), Control: c}).FrameFor(p); f != nil {
			t.Errorf("control %d framed as %q, want skipped", c, f)
		}
	}
}

func TestFrameTranscodes(t *testing.T) {
	var calls atomic.Int32
	p := sse.NewServer(sse.Config{Transcode: func(payload []byte, binary bool) ([]byte, error) {
		calls.Add(1)
		if !binary {
			return nil, errors.New("not ours")
		}
		// A stand-in for MessagePack: the payload is a JSON document's bytes.
		var v any
		if err := json.Unmarshal(payload, &v); err != nil {
			return nil, err
		}
		return json.Marshal(v)
	}}, nil).Protocol()
	got := frameOf(t, p, transport.Message{Payload: []byte(`{"allspark":1,"event":"e","args":[ 5 ]}`), Binary: true})
	if got != "event: e\ndata: 5\n\n" {
		t.Errorf("transcoded frame = %q", got)
	}
	if f, _ := (&transport.Message{Payload: []byte("x")}).FrameFor(p); f != nil {
		t.Errorf("a message Transcode fails on is framed as %q, want skipped", f)
	}
	if calls.Load() != 2 {
		t.Errorf("Transcode called %d times, want 2", calls.Load())
	}
}

// TestBroadcastFramedOnce: every stream writes the same bytes of a shared
// message; the protocol frames it once.
func TestBroadcastFramedOnce(t *testing.T) {
	var calls atomic.Int32
	p := sse.NewServer(sse.Config{Transcode: func(b []byte, _ bool) ([]byte, error) {
		calls.Add(1)
		return b, nil
	}}, nil).Protocol()
	m := transport.Message{Payload: []byte(`{"n":1}`), Shared: new(transport.Shared)}
	var wg sync.WaitGroup
	frames := make([][]byte, 32)
	for i := range frames {
		wg.Go(func() { frames[i], _ = m.FrameFor(p) })
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("framed %d times for %d receivers", calls.Load(), len(frames))
	}
	for _, f := range frames {
		if &f[0] != &frames[0][0] {
			t.Fatal("receivers got different frames")
		}
	}
}
