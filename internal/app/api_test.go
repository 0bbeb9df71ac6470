package app

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

const token = "s3cret-token"

func apiConfig() Config { return Config{Echo: true, APIToken: token} }

func TestAPIDisabledWithoutToken(t *testing.T) {
	ta := startApp(t, Config{Echo: true})
	for _, r := range []struct{ method, path string }{
		{"POST", "/api/publish"}, {"GET", "/api/rooms"}, {"GET", "/api/rooms/x"}, {"DELETE", "/api/sparks/x"}, {"GET", "/api/nope"},
	} {
		// Even a request that carries some token must not get through.
		resp, body := ta.do(t, r.method, r.path, "anything", `{"all":true,"data":1}`)
		if resp.StatusCode != http.StatusForbidden || body["code"] != codeDisabled {
			t.Errorf("%s %s: %d %v", r.method, r.path, resp.StatusCode, body)
		}
		if !strings.Contains(body["error"].(string), "ALLSPARK_API_TOKEN") {
			t.Errorf("the error should say how to enable the API: %v", body)
		}
	}
}

func TestAPIBearerAuth(t *testing.T) {
	ta := startApp(t, apiConfig())
	cases := []struct {
		name, header, wantChallenge string
	}{
		{"missing", "", `Bearer realm="allspark"`},
		{"wrong token", "Bearer nope", `Bearer realm="allspark", error="invalid_token"`},
		{"token prefix", "Bearer " + token[:len(token)-1], `Bearer realm="allspark", error="invalid_token"`},
		{"basic scheme", "Basic " + token, `Bearer realm="allspark", error="invalid_token"`},
		{"no scheme", token, `Bearer realm="allspark", error="invalid_token"`},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest("GET", ta.url+"/api/rooms", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != tc.wantChallenge {
			t.Errorf("%s: %d, WWW-Authenticate %q", tc.name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// Auth comes before routing: an unknown route does not reveal itself.
	if resp, _ := ta.do(t, "GET", "/api/nope", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown route without token: %d", resp.StatusCode)
	}
	// The scheme is case-insensitive (RFC 7235).
	req, _ := http.NewRequest("GET", ta.url+"/api/rooms", nil)
	req.Header.Set("Authorization", "bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("lower-case scheme: %d", resp.StatusCode)
	}
	_, scrape := get(t, ta.url+"/metrics")
	if v := metricValue(t, scrape, "allspark_api_auth_failures_total"); v != float64(len(cases)+1) {
		t.Errorf("auth failures metric %v, want %d", v, len(cases)+1)
	}
	if v := metricValue(t, scrape, `allspark_api_requests_total{code="401",route="rooms"}`); v != float64(len(cases)) {
		t.Errorf("401 requests metric %v", v)
	}
}

func TestAPIMethodsAndRoutes(t *testing.T) {
	ta := startApp(t, apiConfig())
	for _, r := range []struct{ method, path, allow string }{
		{"GET", "/api/publish", "POST"},
		{"PUT", "/api/publish", "POST"},
		{"POST", "/api/rooms", "GET"},
		{"DELETE", "/api/rooms/lobby", "GET"},
		{"GET", "/api/sparks/abc", "DELETE"},
	} {
		resp, body := ta.do(t, r.method, r.path, token, "")
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != r.allow || body["code"] != codeMethod {
			t.Errorf("%s %s: %d Allow=%q %v", r.method, r.path, resp.StatusCode, resp.Header.Get("Allow"), body)
		}
	}
	resp, body := ta.do(t, "GET", "/api/nope", token, "")
	if resp.StatusCode != http.StatusNotFound || body["code"] != codeNotFound {
		t.Errorf("unknown route: %d %v", resp.StatusCode, body)
	}
}

func TestPublishRejectsBadInput(t *testing.T) {
	c := apiConfig()
	c.APIMaxBody = 512
	c.MaxLength = 64
	ta := startApp(t, c)
	cases := []struct {
		name, body string
		status     int
		code, want string
	}{
		{"empty body", ``, 400, codeBadJSON, "empty body"},
		{"not json", `rooms=lobby`, 400, codeBadJSON, "invalid JSON"},
		{"truncated", `{"all": true, "data": `, 400, codeBadJSON, "invalid JSON"},
		{"not an object", `[1,2]`, 400, codeBadJSON, "invalid JSON"},
		{"wrong type", `{"rooms": "lobby", "data": 1}`, 400, codeBadJSON, "rooms"},
		{"trailing data", `{"all": true, "data": 1} {"all": true}`, 400, codeBadJSON, "after the JSON object"},
		{"unknown field", `{"all": true, "data": 1, "room": "x"}`, 400, codeUnknownField, `"room"`},
		{"no receivers", `{"data": 1}`, 400, codeInvalid, "no receivers"},
		{"all and rooms", `{"all": true, "rooms": ["a"], "data": 1}`, 400, codeInvalid, `"all" cannot`},
		{"empty room", `{"rooms": [""], "data": 1}`, 400, codeInvalid, "room name"},
		{"long room", fmt.Sprintf(`{"rooms": [%q], "data": 1}`, strings.Repeat("r", 200)+strings.Repeat("é", 30)), 400, codeInvalid, "room name"},
		{"empty spark id", `{"sparks": [""], "data": 1}`, 400, codeInvalid, "spark id"},
		{"no data, no event", `{"all": true}`, 400, codeInvalid, `"data" is required`},
		{"reserved event", `{"all": true, "event": "open"}`, 400, codeReserved, `event name "open" is reserved`},
		{"reserved prefix", `{"all": true, "event": "primus::x"}`, 400, codeReserved, `event name "primus::x" is reserved`},
		{"control string data", `{"all": true, "data": "primus::ping::1"}`, 400, codeReserved, "control string"},
		{"body over limit", fmt.Sprintf(`{"all": true, "data": %q}`, strings.Repeat("x", 600)), 413, codeTooLarge, "512 bytes"},
		{"message over max-length", fmt.Sprintf(`{"all": true, "data": %q}`, strings.Repeat("x", 100)), 413, codeTooLarge, "max-length"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := ta.do(t, "POST", "/api/publish", token, tc.body)
			if resp.StatusCode != tc.status || body["code"] != tc.code || !strings.Contains(fmt.Sprint(body["error"]), tc.want) {
				t.Fatalf("got %d %v, want %d %s containing %q", resp.StatusCode, body, tc.status, tc.code, tc.want)
			}
		})
	}
}

func TestPublishReachesRoomsSparksAndAll(t *testing.T) {
	ta := startApp(t, apiConfig())
	a := ta.dialRaw(t, "room=r1").ready()
	b := ta.dialRaw(t, "room=r2").ready()
	c := ta.dialRaw(t, "").ready()
	bID, cID := b.id(), c.id()
	// b joins r1 too, server side, so it sits in both rooms.
	sp, ok := ta.Server().Spark(bID)
	if !ok {
		t.Fatal("spark b not found")
	}
	if err := sp.Join("r1"); err != nil {
		t.Fatal(err)
	}

	publish := func(body string) float64 {
		t.Helper()
		resp, reply := ta.do(t, "POST", "/api/publish", token, body)
		if resp.StatusCode != 200 {
			t.Fatalf("publish %s: %d %v", body, resp.StatusCode, reply)
		}
		return reply["delivered"].(float64)
	}

	// A spark in two selected rooms gets the message once.
	if n := publish(`{"rooms": ["r1", "r2"], "data": {"hello": "rooms"}}`); n != 2 {
		t.Fatalf("delivered %v, want 2", n)
	}
	a.expect(`{"hello":"rooms"}`)
	b.expect(`{"hello":"rooms"}`)
	b.quiet(50 * time.Millisecond)
	c.quiet(0)

	if n := publish(fmt.Sprintf(`{"rooms": ["r1"], "except": [%q], "data": "not b"}`, bID)); n != 1 {
		t.Fatalf("delivered %v, want 1", n)
	}
	a.expect(`"not b"`)

	// A named event: the envelope of docs/events.md with data as its one argument.
	if n := publish(fmt.Sprintf(`{"sparks": [%q], "event": "note", "data": {"x": 1}}`, cID)); n != 1 {
		t.Fatalf("delivered %v", n)
	}
	c.expect(`{"allspark":1,"event":"note","args":[{"x":1}]}`)
	// An event without data has no arguments.
	publish(fmt.Sprintf(`{"sparks": [%q], "event": "ping-me"}`, cID))
	c.expect(`{"allspark":1,"event":"ping-me","args":[]}`)

	// Rooms and sparks together are a union, each spark once.
	if n := publish(fmt.Sprintf(`{"rooms": ["r2"], "sparks": [%q, %q], "data": 12345678901234567890}`, bID, cID)); n != 2 {
		t.Fatalf("delivered %v, want 2", n)
	}
	b.expect(`12345678901234567890`) // integers pass through exactly
	c.expect(`12345678901234567890`)

	if n := publish(fmt.Sprintf(`{"all": true, "except": [%q], "data": null}`, cID)); n != 2 {
		t.Fatalf("delivered %v, want 2", n)
	}
	a.expect(`null`)
	b.expect(`null`)

	// Unknown sparks and empty rooms are not errors: nothing is delivered.
	if n := publish(`{"rooms": ["nobody-here"], "sparks": ["no-such-id"], "data": 1}`); n != 0 {
		t.Fatalf("delivered %v, want 0", n)
	}
	a.quiet(50 * time.Millisecond)

	_, scrape := get(t, ta.url+"/metrics")
	if v := metricValue(t, scrape, "allspark_api_published_deliveries_total"); v != 9 {
		t.Errorf("deliveries metric %v, want 9", v)
	}
}

func TestRoomsListAndMembers(t *testing.T) {
	c := apiConfig()
	c.Demo = true // names come from ?name=
	ta := startApp(t, c)
	alice := ta.dialRaw(t, "room=lobby&name=alice").ready()
	bob := ta.dialRaw(t, "room=lobby&name=bob").ready()
	ta.dialRaw(t, "room=ops").ready()
	_, body := ta.do(t, "GET", "/api/rooms", token, "")
	got := fmt.Sprint(body["rooms"])
	if got != "[map[members:2 name:lobby] map[members:1 name:ops]]" {
		t.Fatalf("rooms %s", got)
	}
	resp, body := ta.do(t, "GET", "/api/rooms/lobby", token, "")
	if resp.StatusCode != 200 || body["name"] != "lobby" {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
	members := body["members"].([]any)
	want := []string{alice.id() + ":alice", bob.id() + ":bob"}
	var gotM []string
	for _, m := range members {
		mm := m.(map[string]any)
		gotM = append(gotM, fmt.Sprint(mm["id"], ":", mm["name"]))
	}
	if !slices.Equal(gotM, want) {
		t.Fatalf("members %v, want %v", gotM, want)
	}
	// Room names in the path are unescaped.
	ta.dialRaw(t, "room="+"a%2Fb%20c").ready()
	if resp, body := ta.do(t, "GET", "/api/rooms/a%2Fb%20c", token, ""); resp.StatusCode != 200 || body["name"] != "a/b c" {
		t.Fatalf("escaped room: %d %v", resp.StatusCode, body)
	}
	if resp, body := ta.do(t, "GET", "/api/rooms/empty", token, ""); resp.StatusCode != 404 || body["code"] != codeNotFound {
		t.Fatalf("empty room: %d %v", resp.StatusCode, body)
	}
	if resp, body := ta.do(t, "GET", "/api/rooms/"+strings.Repeat("x", 257), token, ""); resp.StatusCode != 400 || body["code"] != codeInvalid {
		t.Fatalf("long name: %d %v", resp.StatusCode, body)
	}
}

func TestDisconnectSpark(t *testing.T) {
	ta := startApp(t, apiConfig())
	c := ta.dialRaw(t, "room=lobby").ready()
	id := c.id()
	resp, body := ta.do(t, "DELETE", "/api/sparks/"+id, token, "")
	if resp.StatusCode != 200 || body["disconnected"] != id {
		t.Fatalf("%d %v", resp.StatusCode, body)
	}
	// The client is told not to reconnect, then the connection closes.
	c.expect(`"primus::server::close"`)
	select {
	case <-c.closed:
	case <-time.After(waitLong):
		t.Fatal("connection not closed")
	}
	for deadline := time.Now().Add(waitLong); ta.Server().Len() > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("spark still registered")
		}
	}
	if resp, body := ta.do(t, "DELETE", "/api/sparks/"+id, token, ""); resp.StatusCode != 404 || body["code"] != codeNotFound {
		t.Fatalf("second delete: %d %v", resp.StatusCode, body)
	}
	if resp, _ := ta.do(t, "GET", "/api/rooms/lobby", token, ""); resp.StatusCode != 404 {
		t.Fatalf("room should be empty after the disconnect: %d", resp.StatusCode)
	}
}

// historyConfig keeps the history of chat:* rooms only.
func historyConfig() Config {
	c := apiConfig()
	c.History = "chat:*=1000/10m"
	return c
}

// offsets lists the offsets of a history answer's messages.
func offsets(body map[string]any) []float64 {
	var out []float64
	msgs, _ := body["messages"].([]any)
	for _, m := range msgs {
		out = append(out, m.(map[string]any)["offset"].(float64))
	}
	return out
}

func TestAPIHistoryReadsBackWhatWasPublished(t *testing.T) {
	ta := startApp(t, historyConfig())
	for _, body := range []string{
		`{"rooms":["chat:1"],"event":"message","data":{"text":"one"}}`,
		`{"rooms":["chat:1"],"data":"plain two"}`,
		`{"rooms":["chat:1"],"event":"ping"}`,
		`{"rooms":["chat:1"],"event":"message","data":{"text":"four"}}`,
		`{"rooms":["chat:1"],"data":5}`,
	} {
		if resp, reply := ta.do(t, "POST", "/api/publish", token, body); resp.StatusCode != 200 {
			t.Fatalf("publish %s: %d %v", body, resp.StatusCode, reply)
		}
	}
	resp, body := ta.do(t, "GET", "/api/rooms/chat:1/history", token, "")
	if resp.StatusCode != 200 {
		t.Fatalf("history: %d %v", resp.StatusCode, body)
	}
	pos := body["position"].(map[string]any)
	epoch, _ := pos["epoch"].(string)
	if body["room"] != "chat:1" || pos["offset"] != float64(5) || epoch == "" {
		t.Fatalf("history answer %v", js(body))
	}
	want := `[{"args":[{"text":"one"}],"event":"message","offset":1},{"data":"plain two","offset":2},{"event":"ping","offset":3},` +
		`{"args":[{"text":"four"}],"event":"message","offset":4},{"data":5,"offset":5}]`
	if got := js(body["messages"]); got != want {
		t.Fatalf("messages\n got %s\nwant %s", got, want)
	}

	// Pagination: after an offset, at most limit, the top position always.
	for _, tc := range []struct {
		query string
		want  []float64
	}{
		{"?after=2", []float64{3, 4, 5}},
		{"?limit=2", []float64{1, 2}},
		{"?after=2&limit=2", []float64{3, 4}},
		{"?after=4&limit=1000", []float64{5}},
		{"?after=5", nil},
		{"?after=99", nil},
		{"?after=0&limit=1", []float64{1}},
	} {
		resp, body := ta.do(t, "GET", "/api/rooms/chat:1/history"+tc.query, token, "")
		if resp.StatusCode != 200 || !slices.Equal(offsets(body), tc.want) {
			t.Errorf("%s: %d offsets %v, want %v", tc.query, resp.StatusCode, offsets(body), tc.want)
		}
		if p := body["position"].(map[string]any); p["offset"] != float64(5) || p["epoch"] != epoch {
			t.Errorf("%s: position %v, want 5 in %s", tc.query, p, epoch)
		}
		if msgs, ok := body["messages"].([]any); !ok || msgs == nil {
			t.Errorf("%s: messages must be a list, even empty: %v", tc.query, js(body))
		}
	}

	// A room with history is published to alone.
	resp, reply := ta.do(t, "POST", "/api/publish", token, `{"rooms":["chat:1","chat:2"],"data":1}`)
	if resp.StatusCode != http.StatusBadRequest || reply["code"] != codeInvalid || !strings.Contains(reply["error"].(string), "alone") {
		t.Fatalf("publish to two history rooms: %d %v", resp.StatusCode, reply)
	}
}

func TestAPIHistoryDefaultLimit(t *testing.T) {
	ta := startApp(t, historyConfig())
	for i := range 105 {
		if _, err := ta.Server().Room("chat:big").Write(i); err != nil {
			t.Fatal(err)
		}
	}
	_, body := ta.do(t, "GET", "/api/rooms/chat:big/history", token, "")
	if got := offsets(body); len(got) != 100 || got[0] != 1 || got[99] != 100 || body["position"].(map[string]any)["offset"] != float64(105) {
		t.Fatalf("default limit: %d messages %v..., position %v", len(got), got[:min(3, len(got))], body["position"])
	}
	_, body = ta.do(t, "GET", "/api/rooms/chat:big/history?after=100", token, "")
	if got := offsets(body); !slices.Equal(got, []float64{101, 102, 103, 104, 105}) {
		t.Fatalf("the next page: %v", got)
	}
}

func TestAPIHistoryBadRequests(t *testing.T) {
	ta := startApp(t, historyConfig())
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=-1", "?limit=ten", "?limit=1.5", "?after=-1", "?after=x", "?after=1e3",
		"?after=18446744073709551616"} {
		resp, body := ta.do(t, "GET", "/api/rooms/chat:1/history"+q, token, "")
		if resp.StatusCode != http.StatusBadRequest || body["code"] != codeInvalid {
			t.Errorf("%s: %d %v", q, resp.StatusCode, body)
		}
	}
	if resp, body := ta.do(t, "GET", "/api/rooms/chat:"+strings.Repeat("r", maxRoomBytes)+"/history", token, ""); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("long room name: %d %v", resp.StatusCode, body)
	}
	// A room no rule covers, and a server with no history at all: 404.
	if resp, body := ta.do(t, "GET", "/api/rooms/lobby/history", token, ""); resp.StatusCode != http.StatusNotFound || body["code"] != codeNotFound ||
		!strings.Contains(body["error"].(string), "keeps no history") {
		t.Errorf("room without history: %d %v", resp.StatusCode, body)
	}
	plain := startApp(t, apiConfig())
	if resp, body := plain.do(t, "GET", "/api/rooms/chat:1/history", token, ""); resp.StatusCode != http.StatusNotFound || body["code"] != codeNotFound {
		t.Errorf("server without history: %d %v", resp.StatusCode, body)
	}
	// The token is required, and only GET is allowed.
	if resp, body := ta.do(t, "GET", "/api/rooms/chat:1/history", "", ""); resp.StatusCode != http.StatusUnauthorized || body["code"] != codeUnauthorized {
		t.Errorf("no token: %d %v", resp.StatusCode, body)
	}
	if resp, body := ta.do(t, "GET", "/api/rooms/chat:1/history", "wrong", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong token: %d %v", resp.StatusCode, body)
	}
	if resp, body := ta.do(t, "DELETE", "/api/rooms/chat:1/history", token, ""); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
		t.Errorf("DELETE: %d %v", resp.StatusCode, body)
	}
	off := startApp(t, Config{Echo: true, History: "chat:*=10/1m"})
	if resp, body := off.do(t, "GET", "/api/rooms/chat:1/history", token, ""); resp.StatusCode != http.StatusForbidden || body["code"] != codeDisabled {
		t.Errorf("API disabled: %d %v", resp.StatusCode, body)
	}
}
