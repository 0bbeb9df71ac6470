package allspark_test

import (
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/allspark/allspark"
)

// upgrade sends a WebSocket handshake to base+"/primus" with the given Origin
// (none when empty) and Host (the URL's when empty) and returns the status
// and body. A 101 is closed at once.
func upgrade(t *testing.T, base, origin, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/primus", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp.StatusCode, ""
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// The default refuses cross-site WebSocket hijacking: an upgrade from a page
// on another site gets 403, one from the server's own origin (or from a
// non-browser client, which sends no Origin) is accepted.
func TestUpgradeOriginDefaultSameOriginOnly(t *testing.T) {
	_, base := startServer(t, allspark.Options{}, echo)
	u, _ := url.Parse(base)
	host := u.Host // 127.0.0.1:port
	cases := []struct {
		name, origin, host string
		want               int
	}{
		{"no Origin", "", "", 101},
		{"same origin", "http://" + host, "", 101},
		{"same origin over https (scheme ignored)", "https://" + host, "", 101},
		{"same origin, host in capitals", "http://EXAMPLE.com:8080", "example.COM:8080", 101},
		{"default port written on one side", "https://example.com", "example.com:443", 101},
		{"default port omitted by both", "https://example.com", "example.com", 101},
		{"IPv6 literal", "http://[::1]:9000", "[::1]:9000", 101},
		{"foreign site", "https://evil.example", "", 403},
		{"same host, other port", "http://127.0.0.1:1", "", 403},
		{"port omitted in Origin, not default in Host", "http://example.com", "example.com:8080", 403},
		{"host is a suffix of the origin's", "http://evil" + host, "", 403},
		{"opaque origin", "null", "", 403},
		{"origin with a path", "http://" + host + "/x", "", 403},
		{"origin with userinfo", "http://a@" + host, "", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := upgrade(t, base, tc.origin, tc.host)
			if status != tc.want {
				t.Fatalf("Origin %q Host %q: status %d %s, want %d", tc.origin, tc.host, status, body, tc.want)
			}
			if status == 403 && body != `{"error":"origin not allowed"}` {
				t.Fatalf("403 body %q", body)
			}
		})
	}
}

func TestUpgradeOriginListed(t *testing.T) {
	_, base := startServer(t, allspark.Options{CORS: allspark.CORSOptions{
		Origins: []string{"https://app.example", "HTTP://Other.Example:8080/", "https://*.tenant.example"},
	}}, echo)
	u, _ := url.Parse(base)
	cases := []struct {
		origin string
		want   int
	}{
		{"https://app.example", 101},
		{"https://APP.example", 101},
		{"http://other.example:8080", 101},
		{"http://" + u.Host, 101}, // same origin needs no entry
		{"https://a.tenant.example", 101},
		{"https://a.b.tenant.example", 101},
		{"http://app.example", 403},         // other scheme
		{"https://app.example:444", 403},    // other port
		{"http://other.example", 403},       // port missing
		{"https://tenant.example", 403},     // the wildcard needs a label
		{"http://a.tenant.example", 403},    // wildcard keeps the scheme
		{"https://a.tenant.example:1", 403}, // and the port
		{"https://x/.tenant.example", 403},
		{"https://evil.example", 403},
	}
	for _, tc := range cases {
		if status, body := upgrade(t, base, tc.origin, ""); status != tc.want {
			t.Errorf("Origin %q: status %d %s, want %d", tc.origin, status, body, tc.want)
		}
	}
}

func TestUpgradeOriginStarAcceptsAny(t *testing.T) {
	_, base := startServer(t, allspark.Options{CORS: allspark.CORSOptions{Origins: []string{"*"}}}, echo)
	for _, origin := range []string{"https://evil.example", "null", "chrome-extension://abc"} {
		if status, body := upgrade(t, base, origin, ""); status != 101 {
			t.Errorf("Origin %q: status %d %s", origin, status, body)
		}
	}
}

// Plain HTTP is unchanged: with no list every origin reads the spec (its
// content is public); with a list the same origin is still answered.
func TestPlainHTTPOriginRules(t *testing.T) {
	_, open := startServer(t, allspark.Options{}, nil)
	if resp, _ := get(t, open+"/primus/spec", http.Header{"Origin": {"https://evil.example"}}); resp.StatusCode != 200 ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("default plain HTTP: %d %v", resp.StatusCode, resp.Header)
	}
	_, listed := startServer(t, allspark.Options{CORS: allspark.CORSOptions{Origins: []string{"https://app.example"}}}, nil)
	u, _ := url.Parse(listed)
	if resp, body := get(t, listed+"/primus/spec", http.Header{"Origin": {"http://" + u.Host}}); resp.StatusCode != 200 {
		t.Fatalf("same origin with a list: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get(t, listed+"/primus/spec", http.Header{"Origin": {"https://evil.example"}}); resp.StatusCode != 403 {
		t.Fatalf("foreign origin with a list: %d", resp.StatusCode)
	}
}
