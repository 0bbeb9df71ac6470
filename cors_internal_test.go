package allspark

import (
	"net/http/httptest"
	"testing"
)

// X-Forwarded-Host counts only from a trusted proxy: behind a proxy that
// rewrites Host, the browser's origin matches what the proxy was asked for.
func TestSameOriginForwardedHostOnlyFromTrustedProxy(t *testing.T) {
	srv, err := New(Options{TrustedProxies: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	req := func(remote string, fwd ...string) bool {
		r := httptest.NewRequest("GET", "http://backend:8080/primus", nil)
		r.RemoteAddr = remote
		for _, f := range fwd {
			r.Header.Add("X-Forwarded-Host", f)
		}
		return srv.originAllowed(r, "https://chat.example", true)
	}
	if !req("10.1.2.3:5000", "chat.example") {
		t.Error("trusted proxy's X-Forwarded-Host ignored")
	}
	if !req("10.1.2.3:5000", "evil.example, chat.example") {
		t.Error("the right-most entry is the trusted proxy's")
	}
	if req("10.1.2.3:5000", "chat.example, evil.example") {
		t.Error("an entry left of the proxy's own was believed")
	}
	if req("192.0.2.1:5000", "chat.example") {
		t.Error("X-Forwarded-Host believed from an untrusted peer")
	}
	if req("10.1.2.3:5000") {
		t.Error("foreign origin accepted without X-Forwarded-Host")
	}
}
