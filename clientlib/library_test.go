package clientlib

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommittedBundlesMatchSource rebuilds js/src with the pinned esbuild and
// fails when the committed dist/ is stale: run `go generate ./clientlib`.
func TestCommittedBundlesMatchSource(t *testing.T) {
	tmp := t.TempDir()
	builds := map[string][]string{
		"primus.min.js":    {"../js/src/global.ts", "--bundle", "--minify", "--format=iife", "--target=es2020", "--legal-comments=none"},
		"allspark.esm.mjs": {"../js/src/index.ts", "--bundle", "--format=esm", "--target=es2020", "--legal-comments=none"},
	}
	for name, args := range builds {
		out := filepath.Join(tmp, name)
		cmd := exec.Command("go", append([]string{"tool", "esbuild"}, append(args, "--outfile="+out, "--log-level=warning")...)...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("esbuild %s: %v\n%s", name, err, msg)
		}
		fresh, _ := os.ReadFile(out)
		committed, _ := os.ReadFile(filepath.Join("dist", name))
		if !bytes.Equal(fresh, committed) {
			t.Errorf("dist/%s is stale: run `go generate ./clientlib` and commit", name)
		}
	}
}

func TestRenderBakesSettingsAndPlugins(t *testing.T) {
	lib := Render(Settings{Pathname: "/rt", PingTimeoutMS: 45000, Parser: "msgpack", Plugins: []Plugin{{Name: "greet", Source: "Primus.prototype.greet = function(){ return 'hi'; };"}}})
	body := string(lib.Body)
	for _, want := range []string{`Primus.defaults.pathname="/rt"`, "Primus.defaults.pingTimeout=45000", `Primus.defaults.parser="msgpack"`, "/* plugin \"greet\" */", "Primus.prototype.greet"} {
		if !strings.Contains(body, want) {
			t.Errorf("library lacks %q", want)
		}
	}
	if !strings.HasPrefix(body, string(Global())) {
		t.Error("library does not start with the bundle")
	}
	other := Render(Settings{Pathname: "/rt"})
	if other.ETag == lib.ETag || !strings.HasPrefix(lib.ETag, `"sha256-`) {
		t.Errorf("ETags %s %s", lib.ETag, other.ETag)
	}
	if !strings.Contains(string(other.Body), "Primus.defaults.pingTimeout=false") {
		t.Error("ping timeout 0 must turn the watchdog off")
	}
}
