package app

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// historyOf calls the demo's history request and decodes its answer.
func historyOf(t *testing.T, c *rawConn, id int, room string) RoomHistory {
	t.Helper()
	ack, _ := c.call(id, "history", map[string]any{"room": room})
	if e, has := ack["error"]; has {
		t.Fatalf("history %s: %v", room, js(e))
	}
	args, _ := ack["args"].([]any)
	if len(args) != 1 {
		t.Fatalf("history ack %v", js(ack))
	}
	var h RoomHistory
	remarshal(t, args[0], &h)
	return h
}

func TestDemoHistoryReloadsTheRoom(t *testing.T) {
	ta := startApp(t, Config{Demo: true, History: "*=1000/10m", APIToken: token})
	alice := ta.dialRaw(t, "name=alice")
	bob := ta.dialRaw(t, "name=bob")
	aID, bID := alice.id(), bob.id()

	if ack, _ := alice.call(1, "history", map[string]any{"room": "lobby"}); ack["error"].(map[string]any)["code"] != "not_member" {
		t.Fatalf("history before joining: %v", js(ack))
	}
	alice.call(2, "join", map[string]any{"room": "lobby"})
	bob.call(1, "join", map[string]any{"room": "lobby"})
	alice.quiet(50 * time.Millisecond)

	var want []string
	for i := range 3 {
		ack, _ := bob.call(10+i, "message", map[string]any{"room": "lobby", "text": fmt.Sprintf("line %d", i)})
		var m Message
		remarshal(t, ack["args"].([]any)[0], &m)
		if m.ID == "" || m.From != bID {
			t.Fatalf("message ack %v", js(ack))
		}
		want = append(want, m.ID+" bob line "+fmt.Sprint(i))
	}
	bob.call(20, "typing", map[string]any{"room": "lobby", "typing": true})
	resp, _ := ta.do(t, "POST", "/api/publish", token, `{"rooms":["lobby"],"event":"message","data":{"room":"lobby","name":"ops","text":"deploy done"}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("publish: %d", resp.StatusCode)
	}
	want = append(want, " ops deploy done")
	if _, err := ta.Server().Room("lobby").Emit("notice", "plain"); err != nil {
		t.Fatal(err)
	}

	// Typing reaches the others, by spark id: not a write to the room, so
	// not in its history.
	ack, before := alice.call(3, "history", map[string]any{"room": "lobby"})
	typed := 0
	for _, ev := range before {
		if ev["event"] == "typing" && js(ev["args"]) == fmt.Sprintf(`[{"id":%q,"name":"bob","room":"lobby","typing":true}]`, bID) {
			typed++
		}
	}
	if typed != 1 {
		t.Fatalf("alice got %d typing events: %v", typed, js(before))
	}
	var h RoomHistory
	remarshal(t, ack["args"].([]any)[0], &h)
	var got []string
	for _, m := range h.Messages {
		got = append(got, m.ID+" "+m.Name+" "+m.Text)
	}
	if js(got) != js(want) {
		t.Fatalf("messages %v, want %v (other events left out)", got, want)
	}
	// Three lines, the API's line and another event.
	if !h.History || h.Offset != 5 || h.Epoch == "" || h.Room != "lobby" {
		t.Fatalf("history %+v", h)
	}
	if js(h.Members) != fmt.Sprintf(`[{"id":%q,"name":"alice"},{"id":%q,"name":"bob"}]`, aID, bID) {
		t.Fatalf("members %v", js(h.Members))
	}
}

func TestDemoHistoryKeepsTheLastHundred(t *testing.T) {
	ta := startApp(t, Config{Demo: true, History: "*=1000/10m"})
	alice := ta.dialRaw(t, "name=alice")
	alice.call(1, "join", map[string]any{"room": "lobby"})
	const n = demoHistoryLimit + 7
	for i := range n {
		if _, err := ta.Server().Room("lobby").Emit("message", Message{Room: "lobby", Name: "ops", Text: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		alice.next()
	}
	h := historyOf(t, alice, 2, "lobby")
	if len(h.Messages) != demoHistoryLimit || h.Messages[0].Text != fmt.Sprint(n-demoHistoryLimit) || h.Messages[demoHistoryLimit-1].Text != fmt.Sprint(n-1) || h.Offset != n {
		t.Fatalf("%d messages from %q to %q, offset %d", len(h.Messages), h.Messages[0].Text, h.Messages[len(h.Messages)-1].Text, h.Offset)
	}
}

func TestDemoHistoryOfARoomWithout(t *testing.T) {
	ta := startApp(t, Config{Demo: true, History: "chat:*=10/1m"})
	alice := ta.dialRaw(t, "name=alice")
	aID := alice.id()
	alice.call(1, "join", map[string]any{"room": "lobby"})
	alice.call(2, "message", map[string]any{"room": "lobby", "text": "not kept"})
	h := historyOf(t, alice, 3, "lobby")
	if h.History || len(h.Messages) != 0 || h.Offset != 0 || js(h.Members) != fmt.Sprintf(`[{"id":%q,"name":"alice"}]`, aID) {
		t.Fatalf("history %+v", h)
	}
}

// remarshal decodes a generic JSON value into out.
func remarshal(t *testing.T, v, out any) {
	t.Helper()
	if err := json.Unmarshal([]byte(js(v)), out); err != nil {
		t.Fatalf("%s: %v", js(v), err)
	}
}

// The page learns from its meta tag whether the server keeps sessions:
// with them it waits for the session envelope instead of joining again.
func TestDemoPageSaysWhetherRecoveryIsOn(t *testing.T) {
	for _, tc := range []struct {
		recovery bool
		want     string
	}{{true, `<meta name="recovery" content="on">`}, {false, `<meta name="recovery" content="off">`}} {
		ta := startApp(t, Config{Demo: true, Recovery: tc.recovery})
		if _, page := fetch(t, "GET", ta.url+"/", nil); !strings.Contains(page, tc.want) {
			t.Errorf("recovery %v: the page lacks %s", tc.recovery, tc.want)
		}
	}
}
