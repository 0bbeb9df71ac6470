package app

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func sjReq(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "text/plain")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestSockJSRoutes: the binary mounts the plain SockJS path (moved by
// --sockjs-path, gone with --sockjs=false) and --echo echoes plain
// strings there; the settings reach the server.
func TestSockJSRoutes(t *testing.T) {
	c := Config{Echo: true, SockJS: true, SockJSPath: "/rt", SockJSWebSocket: false, SockJSHeartbeat: 50 * time.Millisecond}
	ta := startApp(t, c)
	if st, body := sjReq(t, "GET", ta.url+"/rt", ""); st != 200 || body != "Welcome to SockJS!\n" {
		t.Fatalf("GET /rt: %d %q", st, body)
	}
	if _, body := sjReq(t, "GET", ta.url+"/rt/info", ""); !strings.Contains(body, `"websocket":false`) {
		t.Fatalf("info with --sockjs-websocket=false: %s", body)
	}
	if st, _ := sjReq(t, "GET", ta.url+"/sockjs", ""); st == 200 {
		t.Fatal("/sockjs still greets after --sockjs-path /rt")
	}
	if _, body := sjReq(t, "POST", ta.url+"/rt/0/e1/xhr", ""); body != "o\n" {
		t.Fatalf("open: %q", body)
	}
	if st, _ := sjReq(t, "POST", ta.url+"/rt/0/e1/xhr_send", `["echo me"]`); st != 204 {
		t.Fatalf("send: %d", st)
	}
	if _, body := sjReq(t, "POST", ta.url+"/rt/0/e1/xhr", ""); body != "a[\"echo me\"]\n" {
		t.Fatalf("echo: %q", body)
	}
	if _, body := sjReq(t, "POST", ta.url+"/rt/0/e1/xhr", ""); body != "h\n" {
		t.Fatalf("heartbeat with --sockjs-heartbeat 50ms: %q", body)
	}

	off := startApp(t, Config{Echo: true})
	if st, _ := sjReq(t, "GET", off.url+"/sockjs", ""); st != 404 {
		t.Fatalf("zero Config (SockJS off): /sockjs %d", st)
	}
	on := startApp(t, Default())
	if st, _ := sjReq(t, "GET", on.url+"/sockjs/info", ""); st != 200 {
		t.Fatalf("default Config: /sockjs/info %d", st)
	}
}
