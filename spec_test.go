package allspark_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/allspark/allspark"
)

// With Pathname "/" the server owns every path; the spec and the client
// library are at /spec and /primus.js, not at "//spec".
func TestRootPathnameServesSpecAndLibrary(t *testing.T) {
	_, base := startServer(t, allspark.Options{Pathname: "/"}, echo)
	resp, body := get(t, base+"/spec", nil)
	var spec allspark.Spec
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &spec) != nil || spec.Pathname != "/" {
		t.Fatalf("GET /spec: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, base+"/primus.js", nil); resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("GET /primus.js: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := get(t, base+"/elsewhere", nil); resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("GET /elsewhere: %d, want 426", resp.StatusCode)
	}
	c := dial(t, base, "/", nil)
	c.sendText(`"hello"`)
	c.expect(`"hello"`)
}
