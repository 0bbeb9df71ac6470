package allspark_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/allspark/allspark"
)

func get(t *testing.T, url string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func TestMiddlewareOrderAndManagement(t *testing.T) {
	var trace []string
	mark := func(name string) allspark.MiddlewareFunc {
		return func(w http.ResponseWriter, r *http.Request, next func(*http.Request)) {
			trace = append(trace, name)
			next(r)
		}
	}
	srv, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		_ = s.Use("b", mark("b"), nil)
		_ = s.UseAt(0, "a", mark("a"), nil)
		_ = s.Use("http-only", mark("http-only"), &allspark.MiddlewareOptions{SkipUpgrade: true})
		_ = s.Use("upgrade-only", mark("upgrade-only"), &allspark.MiddlewareOptions{SkipHTTP: true})
	})
	want := []string{"a", "cors", "no-cache", "spec", "primus.js", "authorization", "b", "http-only", "upgrade-only"}
	if got := srv.Middleware(); !slices.Equal(got, want) {
		t.Fatalf("Middleware() = %v, want %v", got, want)
	}
	if err := srv.Use("a", mark("x"), nil); !errors.Is(err, allspark.ErrDuplicateName) {
		t.Fatalf("duplicate Use = %v", err)
	}

	get(t, url+"/primus", nil)
	if strings.Join(trace, ",") != "a,b,http-only" {
		t.Fatalf("HTTP trace %v", trace)
	}
	trace = nil
	dial(t, url, "/primus", nil)
	if strings.Join(trace, ",") != "a,b,upgrade-only" {
		t.Fatalf("upgrade trace %v", trace)
	}

	trace = nil
	if err := srv.Disable("a"); err != nil {
		t.Fatal(err)
	}
	get(t, url+"/primus", nil)
	if strings.Join(trace, ",") != "b,http-only" {
		t.Fatalf("after Disable: %v", trace)
	}
	trace = nil
	_ = srv.Enable("a")
	if err := srv.Remove("b"); err != nil {
		t.Fatal(err)
	}
	get(t, url+"/primus", nil)
	if strings.Join(trace, ",") != "a,http-only" {
		t.Fatalf("after Enable/Remove: %v", trace)
	}
	for _, err := range []error{srv.Remove("nope"), srv.Enable("nope"), srv.Disable("nope")} {
		if !errors.Is(err, allspark.ErrNotFound) {
			t.Fatalf("unknown name: %v", err)
		}
	}
}

func TestMiddlewareCanAnswerAndBuiltinsCanBeRemoved(t *testing.T) {
	srv, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		_ = s.UseAt(0, "teapot", func(w http.ResponseWriter, r *http.Request, next func(*http.Request)) {
			if r.URL.Query().Has("tea") {
				w.WriteHeader(http.StatusTeapot)
				return
			}
			next(r)
		}, nil)
	})
	if resp, _ := get(t, url+"/primus?tea", nil); resp.StatusCode != http.StatusTeapot {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, err := tryDial(t, url, "/primus?tea", nil); err == nil {
		t.Fatal("upgrade passed a middleware that answered")
	}
	_ = srv.Remove(allspark.MiddlewareSpec)
	if resp, _ := get(t, url+"/primus/spec", nil); resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("spec after removing it: %d", resp.StatusCode)
	}
	_ = srv.Disable(allspark.MiddlewareNoCache)
	if resp, _ := get(t, url+"/primus", nil); resp.Header.Get("Cache-Control") != "" {
		t.Fatal("no-cache still applied when disabled")
	}
}

func TestAuthorization(t *testing.T) {
	srv, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		echo(s)
		s.Authorize(func(r *http.Request) error {
			switch r.URL.Query().Get("as") {
			case "ok":
				return nil
			case "forbidden":
				return &allspark.AuthError{Status: http.StatusForbidden, Message: "not yours", Authenticate: `Basic realm="x"`}
			case "plain":
				return errors.New("who are you")
			}
			return &allspark.AuthError{Message: "login first", Authenticate: `Basic realm="allspark"`}
		})
	})
	cases := []struct {
		query, body, challenge string
		status                 int
	}{
		{"", `{"error":"login first"}`, `Basic realm="allspark"`, 401},
		{"forbidden", `{"error":"not yours"}`, "", 403},
		{"plain", `{"error":"who are you"}`, "", 401},
	}
	for _, tc := range cases {
		c, err := tryDial(t, url, "/primus?as="+tc.query, nil)
		if err == nil {
			t.Fatalf("as=%s: upgrade accepted", tc.query)
		}
		resp := c.resp
		if resp == nil {
			t.Fatalf("as=%s: no response: %v", tc.query, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.status || string(body) != tc.body ||
			resp.Header.Get("WWW-Authenticate") != tc.challenge ||
			resp.Header.Get("Content-Type") != "application/json" ||
			!resp.Close {
			t.Errorf("as=%s: %d %s %v (close %v)", tc.query, resp.StatusCode, body, resp.Header, resp.Close)
		}
	}
	c := dial(t, url, "/primus?as=ok", nil)
	c.sendText(`"in"`)
	c.expect(`"in"`)
	if got := srv.Stats().AuthFailures; got != 3 {
		t.Fatalf("AuthFailures = %d", got)
	}
	srv.Authorize(nil)
	dial(t, url, "/primus", nil)
}

func TestWriteErrorUsesHTTPErrorStatus(t *testing.T) {
	_, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		_ = s.UseAt(0, "fail", func(w http.ResponseWriter, r *http.Request, next func(*http.Request)) {
			allspark.WriteError(w, errors.New("boom"))
		}, nil)
	})
	resp, body := get(t, url+"/primus", nil)
	var v map[string]string
	_ = json.Unmarshal([]byte(body), &v)
	if resp.StatusCode != 500 || v["error"] != "boom" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestCORS(t *testing.T) {
	_, open := startServer(t, allspark.Options{}, nil)
	resp, _ := get(t, open+"/primus/spec", http.Header{"Origin": {"https://any.example"}})
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("open CORS headers %v", resp.Header)
	}

	_, url := startServer(t, allspark.Options{CORS: allspark.CORSOptions{
		Origins: []string{"https://app.example"}, Credentials: true, Exposed: []string{"X-Id"},
	}}, echo)
	resp, _ = get(t, url+"/primus/spec", http.Header{"Origin": {"https://app.example"}})
	h := resp.Header
	if resp.StatusCode != 200 || h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Access-Control-Expose-Headers") != "X-Id" {
		t.Fatalf("allowed origin: %d %v", resp.StatusCode, h)
	}
	if resp, body := get(t, url+"/primus/spec", http.Header{"Origin": {"https://evil.example"}}); resp.StatusCode != 403 || body != `{"error":"origin not allowed"}` {
		t.Fatalf("bad origin: %d %s", resp.StatusCode, body)
	}
	if _, err := tryDial(t, url, "/primus", http.Header{"Origin": {"https://evil.example"}}); err == nil {
		t.Fatal("upgrade from a foreign origin accepted")
	}
	dial(t, url, "/primus", http.Header{"Origin": {"https://app.example"}})

	req, _ := http.NewRequest(http.MethodOptions, url+"/primus/spec", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "X-Token")
	pre, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pre.Body.Close()
	if pre.StatusCode != 200 || pre.Header.Get("Access-Control-Allow-Methods") == "" ||
		pre.Header.Get("Access-Control-Allow-Headers") != "X-Token" || pre.Header.Get("Access-Control-Max-Age") != "2592000" {
		t.Fatalf("preflight %d %v", pre.StatusCode, pre.Header)
	}
}

func TestClientLibraryServedWithSettingsAndETag(t *testing.T) {
	srv, url := startServer(t, allspark.Options{Pathname: "/rt", PingInterval: 20 * 1e9}, func(s *allspark.Server) {
		s.Authorize(func(*http.Request) error { return errors.New("the library needs no auth") })
	})
	resp, body := get(t, url+"/rt/primus.js", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	if !strings.Contains(body, `Primus.defaults.pathname="/rt"`) || !strings.Contains(body, "Primus.defaults.pingTimeout=30000") {
		t.Fatal("settings not baked in")
	}
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "public, no-cache" || resp.Header.Get("Pragma") != "" {
		t.Fatalf("caching headers %v", resp.Header)
	}
	if again, _ := get(t, url+"/rt/primus.js", http.Header{"If-None-Match": {etag}}); again.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %d", again.StatusCode)
	}
	if err := srv.Plugin(&countingPlugin{name: "tag"}); err != nil {
		t.Fatal(err)
	}
	resp, body = get(t, url+"/rt/primus.js", http.Header{"If-None-Match": {etag}})
	if resp.StatusCode != 200 || !strings.Contains(body, "/* client part */") || resp.Header.Get("ETag") == etag {
		t.Fatalf("plugin client part not served: %d", resp.StatusCode)
	}
}
