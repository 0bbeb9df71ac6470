package proto

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPayloadRoundTrip(t *testing.T) {
	p := AppendPayload(nil, 42, 1700000000123456789, 100)
	if len(p) != 100 || p[0] != Marker {
		t.Fatalf("payload %q (len %d)", p, len(p))
	}
	var seqs []uint64
	var times []int64
	// Two payloads in one message, as a batching server sends them, plus
	// noise that looks like a marker but carries no numbers.
	msg := append([]byte(`{"a":"#x"}`+"\n"), p...)
	msg = append(msg, '\n')
	msg = AppendPayload(msg, 43, 5, 10)
	n := Scan(msg, func(seq uint64, nanos int64) {
		seqs = append(seqs, seq)
		times = append(times, nanos)
	})
	if n != 2 || seqs[0] != 42 || times[0] != 1700000000123456789 || seqs[1] != 43 || times[1] != 5 {
		t.Fatalf("Scan = %d %v %v", n, seqs, times)
	}
	if Scan([]byte("#12"), nil) != 0 || Scan([]byte("#1:2"), nil) != 0 {
		t.Fatal("truncated markers must not count")
	}
}

// validJSON checks that a message is one JSON value (or, for Socket.IO, a
// packet type prefix followed by one).
func validJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%q is not JSON: %v", s, err)
	}
	return v
}

func TestPrimusMessages(t *testing.T) {
	p := Primus{Kind: "allspark"}
	if p.Name() != "allspark" || (Primus{}).Name() != "primus" {
		t.Fatal("names")
	}
	if got := p.Path([]string{"a", "b"}); got != "/primus?rooms=a,b" {
		t.Fatalf("Path = %q", got)
	}
	if got := p.Path(nil); got != "/primus" {
		t.Fatalf("Path = %q", got)
	}
	pl := AppendPayload(nil, 1, 2, 20)
	if v := validJSON(t, string(p.AppendEcho(nil, 1, pl))); v != string(pl) {
		t.Fatalf("echo decodes to %v", v)
	}
	v := validJSON(t, string(p.AppendPublish(nil, 9, "bench", pl))).(map[string]any)
	if v["publish"] != "bench" || v["data"] != string(pl) {
		t.Fatalf("publish = %v", v)
	}
	if got := string(p.Heartbeat([]byte(`"primus::ping::1700"`))); got != `"primus::pong::1700"` {
		t.Fatalf("Heartbeat = %q", got)
	}
	if p.Heartbeat(pl) != nil {
		t.Fatal("data is not a heartbeat")
	}
}

func TestSocketIOMessages(t *testing.T) {
	s := SocketIO{}
	if got := s.Path([]string{"r1"}); got != "/socket.io/?EIO=4&transport=websocket&rooms=r1" {
		t.Fatalf("Path = %q", got)
	}
	if h := s.Hello(nil); len(h) != 1 || string(h[0]) != "40" {
		t.Fatalf("Hello = %q", h)
	}
	if s.Replies([]byte(`0{"sid":"x","pingInterval":25000}`)) != 1 || s.Replies([]byte(`40{"sid":"y"}`)) != 1 || s.Replies([]byte(`42["m","#1:2:"]`)) != 0 {
		t.Fatal("Replies miscounts")
	}
	pl := AppendPayload(nil, 1, 2, 20)
	echo := string(s.AppendEcho(nil, 17, pl))
	if !strings.HasPrefix(echo, "4217[") {
		t.Fatalf("echo %q is not an event packet asking for ack 17", echo)
	}
	if v := validJSON(t, echo[4:]).([]any); v[0] != "echo" || v[1] != string(pl) {
		t.Fatalf("echo = %v", v)
	}
	if !s.EchoReply([]byte(`4317["`+string(pl)+`"]`)) || s.EchoReply([]byte(`42["echo","`+string(pl)+`"]`)) {
		t.Fatal("EchoReply must take the ack and only the ack")
	}
	pub := string(s.AppendPublish(nil, 1, "bench", pl))
	if v := validJSON(t, pub[2:]).([]any); !strings.HasPrefix(pub, "42") || v[0] != "publish" || v[1] != "bench" || v[2] != string(pl) {
		t.Fatalf("publish = %q", pub)
	}
	if string(s.Heartbeat([]byte("2"))) != "3" || s.Heartbeat([]byte("3")) != nil || s.Heartbeat([]byte("42[]")) != nil {
		t.Fatal("Heartbeat")
	}
}

func TestCentrifugeMessages(t *testing.T) {
	c := Centrifuge{}
	h := c.Hello([]string{"a", "b"})
	if len(h) != 3 || c.HelloReplies([]string{"a", "b"}) != 3 {
		t.Fatalf("Hello = %q", h)
	}
	for i, m := range h {
		v := validJSON(t, string(m)).(map[string]any)
		if v["id"] != float64(i+1) {
			t.Fatalf("command %d has id %v", i, v["id"])
		}
	}
	if sub := validJSON(t, string(h[2])).(map[string]any)["subscribe"].(map[string]any); sub["channel"] != "b" {
		t.Fatalf("subscribe = %v", sub)
	}
	batch := []byte(`{"id":1,"connect":{"client":"x"}}` + "\n" + `{"id":2,"subscribe":{}}` + "\n" + `{"id":3,"error":{"code":103}}`)
	if got := c.Replies(batch); got != 2 {
		t.Fatalf("Replies = %d, want 2 (errors do not count)", got)
	}
	pl := AppendPayload(nil, 1, 2, 20)
	e := validJSON(t, string(c.AppendEcho(nil, 1, pl))).(map[string]any)
	if e["send"].(map[string]any)["data"] != string(pl) {
		t.Fatalf("echo = %v", e)
	}
	p := validJSON(t, string(c.AppendPublish(nil, 77, "bench", pl))).(map[string]any)
	pub := p["publish"].(map[string]any)
	if p["id"] != float64(77) || pub["channel"] != "bench" || pub["data"] != string(pl) {
		t.Fatalf("publish = %v", p)
	}
	if string(c.Heartbeat([]byte(`{"push":{}}`+"\n{}"))) != "{}" || c.Heartbeat([]byte(`{"id":1}`)) != nil {
		t.Fatal("Heartbeat")
	}
}

func TestRawMessages(t *testing.T) {
	r := Raw{}
	pl := AppendPayload(nil, 1, 2, 10)
	if got := string(r.AppendPublish(nil, 0, "r3", pl)); got != "Pr3\n\""+string(pl)+"\"" {
		t.Fatalf("publish = %q", got)
	}
	if got := string(r.AppendEcho(nil, 1, pl)); got[0] == 'P' {
		t.Fatalf("echo %q would be taken for a publish", got)
	}
}

func TestByNameAndRooms(t *testing.T) {
	for _, n := range []string{"allspark", "allspark-cli", "primus", "socketio", "zishang", "allspark-sio", "centrifuge", "raw"} {
		p, err := ByName(n)
		if err != nil || p.Name() != n {
			t.Fatalf("ByName(%q) = %v, %v", n, p, err)
		}
	}
	if _, err := ByName("nope"); err == nil {
		t.Fatal("unknown name accepted")
	}
	for r, ok := range map[string]bool{"bench": true, "r_1-2": true, "": false, "a b": false, `a"`: false, "a,b": false, strings.Repeat("x", 65): false} {
		if ValidRoom(r) != ok {
			t.Fatalf("ValidRoom(%q) = %v", r, !ok)
		}
	}
}
