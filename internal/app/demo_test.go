package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCommittedDemoBundleMatchesSource rebuilds demo/chat.ts with the pinned
// esbuild and fails when the committed demo/dist/chat.js is stale: run
// `go generate ./internal/app` and commit.
func TestCommittedDemoBundleMatchesSource(t *testing.T) {
	out := filepath.Join(t.TempDir(), "chat.js")
	cmd := exec.Command("go", "tool", "esbuild", "demo/chat.ts", "--bundle", "--format=iife", "--target=es2020",
		"--legal-comments=none", "--outfile="+out, "--log-level=warning")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("esbuild: %v\n%s", err, msg)
	}
	fresh, _ := os.ReadFile(out)
	committed, _ := os.ReadFile("demo/dist/chat.js")
	if !bytes.Equal(fresh, committed) {
		t.Fatal("demo/dist/chat.js is stale: run `go generate ./internal/app` and commit")
	}
}

func fetch(t *testing.T, method, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp, b.String()
}

func TestDemoAssets(t *testing.T) {
	ta := startApp(t, Config{Demo: true, Pathname: "/rt"})
	resp, page := fetch(t, "GET", ta.url+"/", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// The page loads the library from the configured pathname.
	if !strings.Contains(page, `<script src="/rt/primus.js">`) || strings.Contains(page, "/primus/primus.js") {
		t.Fatal("page does not follow the pathname")
	}
	if code, lib := get(t, ta.url+"/rt/primus.js"); code != 200 || !strings.Contains(lib, `Primus.defaults.pathname="/rt"`) {
		t.Fatalf("library: %d", code)
	}
	for path, typ := range map[string]string{"/demo/chat.js": "text/javascript; charset=utf-8", "/demo/style.css": "text/css; charset=utf-8"} {
		resp, body := fetch(t, "GET", ta.url+path, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != typ || body == "" {
			t.Errorf("%s: %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		etag := resp.Header.Get("ETag")
		if resp, _ := fetch(t, "GET", ta.url+path, http.Header{"If-None-Match": {etag}}); etag == "" || resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s: revalidation with %q got %d", path, etag, resp.StatusCode)
		}
	}
	if resp, _ := fetch(t, "POST", ta.url+"/", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", resp.StatusCode)
	}
	if resp, _ := fetch(t, "GET", ta.url+"/nope", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/nope: %d", resp.StatusCode)
	}
}

func TestDemoOff(t *testing.T) {
	for _, c := range []Config{{Demo: false}, {Demo: true, Parser: "msgpack"}} {
		ta := startApp(t, c)
		if resp, _ := fetch(t, "GET", ta.url+"/", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%+v: / answered %d", c, resp.StatusCode)
		}
	}
}

// env decodes the next frame as an event envelope (or any JSON object).
func (c *rawConn) env() map[string]any {
	c.t.Helper()
	m := c.next()
	var v map[string]any
	if err := json.Unmarshal([]byte(m), &v); err != nil {
		c.t.Fatalf("frame %s is not an object: %v", m, err)
	}
	return v
}

// call sends an event with an ack id and returns the ack, collecting the
// events that arrive before it.
func (c *rawConn) call(id int, event string, arg any) (ack map[string]any, before []map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(map[string]any{"allspark": 1, "event": event, "args": []any{arg}, "id": id})
	c.send(string(b))
	for {
		m := c.env()
		if m["ack"] == float64(id) {
			return m, before
		}
		before = append(before, m)
	}
}

func js(v any) string { b, _ := json.Marshal(v); return string(b) }

// presence waits for the presence_diff event of spark's action among the
// frames a call collected (before) and those that follow, and returns its
// argument; other presence events are skipped.
func (c *rawConn) presence(before []map[string]any, spark, action string) map[string]any {
	c.t.Helper()
	match := func(m map[string]any) map[string]any {
		args, _ := m["args"].([]any)
		if m["event"] != "presence_diff" || len(args) != 1 {
			if m["event"] != "presence_diff" {
				c.t.Fatalf("want a presence event, got %v", js(m))
			}
			return nil
		}
		if d, _ := args[0].(map[string]any); d["spark"] == spark && d["action"] == action {
			return d
		}
		return nil
	}
	for _, m := range before {
		if d := match(m); d != nil {
			return d
		}
	}
	for {
		if d := match(c.env()); d != nil {
			return d
		}
	}
}

func TestDemoChat(t *testing.T) {
	ta := startApp(t, Config{Demo: true})
	alice := ta.dialRaw(t, "name=%20alice%20").withPresence()
	bob := ta.dialRaw(t, "name=bob").withPresence()
	aID, bID := alice.id(), bob.id()

	ack, before := alice.call(1, "join", map[string]any{"room": "lobby"})
	wantAlice := fmt.Sprintf(`[{"members":[{"id":%q,"name":"alice"}],"room":"lobby"}]`, aID)
	if js(ack["args"]) != wantAlice {
		t.Fatalf("join ack %v", js(ack))
	}
	if d := alice.presence(before, aID, "join"); d["user"] != "alice" || d["sparks"] != float64(1) || d["room"] != "lobby" {
		t.Fatalf("alice's presence %v", js(d))
	}

	ack, before = bob.call(1, "join", map[string]any{"room": "lobby"})
	both := fmt.Sprintf(`[{"members":[{"id":%q,"name":"alice"},{"id":%q,"name":"bob"}],"room":"lobby"}]`, aID, bID)
	if js(ack["args"]) != both {
		t.Fatalf("bob's join ack %v", js(ack))
	}
	bob.presence(before, bID, "join")
	if d := alice.presence(nil, bID, "join"); d["user"] != "bob" || d["sparks"] != float64(1) {
		t.Fatalf("alice did not see bob arrive: %v", js(d))
	}
	// A second tab of alice's is not a second alice.
	tab := ta.dialRaw(t, "name=alice").withPresence()
	tabID := tab.id()
	ack, before = tab.call(1, "join", map[string]any{"room": "lobby"})
	if js(ack["args"]) != both {
		t.Fatalf("second tab's join ack %v", js(ack))
	}
	tab.presence(before, tabID, "join")
	if d := bob.presence(nil, tabID, "join"); d["user"] != "alice" || d["sparks"] != float64(2) {
		t.Fatalf("bob saw the second tab as %v", js(d))
	}
	alice.presence(nil, tabID, "join")
	tab.call(2, "leave", map[string]any{"room": "lobby"})
	if d := bob.presence(nil, tabID, "leave"); d["sparks"] != float64(1) {
		t.Fatalf("bob saw the tab close as %v", js(d))
	}
	alice.presence(nil, tabID, "leave")

	// Typing goes to the others only.
	ack, _ = bob.call(2, "typing", map[string]any{"room": "lobby", "typing": true})
	if _, has := ack["error"]; has {
		t.Fatalf("typing: %v", js(ack))
	}
	if ev := alice.env(); ev["event"] != "typing" || js(ev["args"]) != fmt.Sprintf(`[{"id":%q,"name":"bob","room":"lobby","typing":true}]`, bID) {
		t.Fatalf("typing event %v", js(ev))
	}

	// A message is acked to its sender and delivered to the others.
	ack, _ = bob.call(3, "message", map[string]any{"room": "lobby", "text": "  hi alice  "})
	msg := ack["args"].([]any)[0].(map[string]any)
	if msg["text"] != "hi alice" || msg["name"] != "bob" || msg["from"] != bID || msg["ts"].(float64) < float64(time.Now().Add(-time.Minute).UnixMilli()) {
		t.Fatalf("message ack %v", js(ack))
	}
	if ev := alice.env(); ev["event"] != "message" || js(ev["args"]) != js([]any{msg}) {
		t.Fatalf("alice got %v", js(ev))
	}
	bob.quiet(50 * time.Millisecond)

	// Errors come back as ack errors with a code.
	for i, tc := range []struct {
		event string
		arg   any
		code  string
	}{
		{"message", map[string]any{"room": "elsewhere", "text": "x"}, "not_member"},
		{"typing", map[string]any{"room": "elsewhere", "typing": true}, "not_member"},
		{"message", map[string]any{"room": "lobby", "text": "   "}, "invalid_argument"},
		{"message", map[string]any{"room": "lobby", "text": strings.Repeat("é", 2001)}, "invalid_argument"},
		{"join", map[string]any{"room": ""}, "invalid_argument"},
		{"join", map[string]any{"room": strings.Repeat("r", 41)}, "invalid_argument"},
		{"join", map[string]any{"room": "x", "extra": 1}, "invalid_argument"},
	} {
		ack, _ := bob.call(10+i, tc.event, tc.arg)
		errBody, _ := ack["error"].(map[string]any)
		if errBody["code"] != tc.code {
			t.Errorf("%s %v: %v, want code %s", tc.event, tc.arg, js(ack), tc.code)
		}
	}

	// Leaving tells the others.
	if ack, _ := bob.call(30, "leave", map[string]any{"room": "lobby"}); js(ack["args"]) != "[]" {
		t.Fatalf("leave ack %v", js(ack))
	}
	if d := alice.presence(nil, bID, "leave"); d["user"] != "bob" || d["sparks"] != float64(0) {
		t.Fatalf("presence after leave %v", js(d))
	}
	// So does disconnecting.
	bob.call(31, "join", map[string]any{"room": "lobby"})
	alice.presence(nil, bID, "join") // bob is back
	_ = bob.conn.NetConn().Close()
	if d := alice.presence(nil, bID, "leave"); d["sparks"] != float64(0) {
		t.Fatalf("presence after disconnect %v", js(d))
	}
}

func TestDemoNeedsAName(t *testing.T) {
	ta := startApp(t, Config{Demo: true})
	anon := ta.dialRaw(t, "name=%00%01")
	ack, _ := anon.call(1, "join", map[string]any{"room": "lobby"})
	if errBody, _ := ack["error"].(map[string]any); errBody["code"] != "no_name" {
		t.Fatalf("join without a name: %v", js(ack))
	}
	if got := cleanName(" \x00" + strings.Repeat("ab", 40) + "\n"); got != strings.Repeat("ab", 16) {
		t.Fatalf("cleanName cut to %q", got)
	}
}

// A client cannot make the server hold rooms without limit: past
// MaxRoomsPerSpark its join is answered with too_many_rooms.
func TestDemoJoinPastRoomLimit(t *testing.T) {
	ta := startApp(t, Config{Demo: true})
	bob := ta.dialRaw(t, "name=bob")
	sp, ok := ta.Server().Spark(bob.id())
	if !ok {
		t.Fatal("no spark")
	}
	limit := ta.Server().Options().MaxRoomsPerSpark
	rooms := make([]string, limit)
	for i := range rooms {
		rooms[i] = fmt.Sprint("r", i)
	}
	if err := sp.Join(rooms...); err != nil {
		t.Fatal(err)
	}
	ack, _ := bob.call(1, "join", map[string]any{"room": "one-more"})
	errBody, _ := ack["error"].(map[string]any)
	if errBody["code"] != "too_many_rooms" || !strings.Contains(fmt.Sprint(errBody["message"]), fmt.Sprint(limit)) {
		t.Fatalf("join past the limit: %v", js(ack))
	}
	if sp.InRoom("one-more") {
		t.Fatal("joined past the limit")
	}
	// A room already joined is still fine.
	if ack, _ := bob.call(2, "join", map[string]any{"room": "r0"}); ack["error"] != nil {
		t.Fatalf("rejoin: %v", js(ack))
	}
}
