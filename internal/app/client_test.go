package app

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// servedLibrary is the body of GET <pathname>/primus.js from a server built
// from the same args and environment, the bytes Client must reproduce.
func servedLibrary(t *testing.T, args []string, getenv func(string) string) []byte {
	t.Helper()
	c, err := Load(args, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ta := startApp(t, c)
	resp, err := http.Get(ta.url + ta.Server().Pathname() + "/primus.js")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("GET primus.js: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return body
}

// TestClientMatchesServed proves `allspark client` prints exactly what the
// configured server serves, for the default configuration and for one that
// changes every setting baked into the library, by flag and by variable.
func TestClientMatchesServed(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string // a fragment the settings must have put in the library
	}{
		{"default", nil, nil, `Primus.defaults.pathname="/primus";Primus.defaults.pingTimeout=45000;Primus.defaults.parser="json";`},
		{"flags", []string{"--pathname", "/rt/v1", "--ping-interval", "10s", "--parser", "msgpack"}, nil,
			`Primus.defaults.pathname="/rt/v1";Primus.defaults.pingTimeout=15000;Primus.defaults.parser="msgpack";`},
		{"env", nil, map[string]string{"ALLSPARK_PATHNAME": "/live", "ALLSPARK_PING_INTERVAL": "0"},
			`Primus.defaults.pathname="/live";Primus.defaults.pingTimeout=false;`},
		{"echo", []string{"--echo", "--pathname", "/bench"}, nil, `Primus.defaults.pathname="/bench";`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := Client(tc.args, env(tc.env), &stdout, &stderr); err != nil {
				t.Fatal(err)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr: %q", stderr.String())
			}
			served := servedLibrary(t, tc.args, env(tc.env))
			if !bytes.Equal(stdout.Bytes(), served) {
				t.Fatalf("client wrote %d bytes, server serves %d; they differ", stdout.Len(), len(served))
			}
			if !bytes.Contains(stdout.Bytes(), []byte(tc.want)) {
				t.Errorf("library lacks %s", tc.want)
			}
		})
	}
}

// TestClientOut proves --out writes the same bytes as stdout, replaces an
// existing file by a rename, not in place (no temporary file left, public
// mode), and
// that a write failure is a run-time error, not a configuration one.
func TestClientOut(t *testing.T) {
	args := []string{"--pathname", "/rt"}
	var stdout bytes.Buffer
	if err := Client(args, env(nil), &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "primus.js")
	if err := os.WriteFile(out, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A second name for the old file, outside dir: a rename leaves it
	// reading "old", a write in place (what a reader could catch half done)
	// would change it.
	oldLink := filepath.Join(t.TempDir(), "old.js")
	if err := os.Link(out, oldLink); err != nil {
		t.Fatal(err)
	}
	var ignored bytes.Buffer
	if err := Client(append(args, "--out", out), env(nil), &ignored, io.Discard); err != nil {
		t.Fatal(err)
	}
	if ignored.Len() != 0 {
		t.Errorf("--out also wrote %d bytes to stdout", ignored.Len())
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, stdout.Bytes()) {
		t.Fatalf("file has %d bytes, stdout had %d; they differ", len(got), stdout.Len())
	}
	if b, err := os.ReadFile(oldLink); err != nil || string(b) != "old" {
		t.Errorf("the old file was rewritten in place, not replaced (%d bytes, %v)", len(b), err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode: %v %v", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want just primus.js: %v", len(entries), entries)
	}

	// "-" is stdout.
	var dash bytes.Buffer
	if err := Client(append(args, "--out", "-"), env(nil), &dash, io.Discard); err != nil || !bytes.Equal(dash.Bytes(), stdout.Bytes()) {
		t.Errorf("--out -: %v, %d bytes", err, dash.Len())
	}

	err = Client([]string{"--out", filepath.Join(dir, "missing", "primus.js")}, env(nil), io.Discard, io.Discard)
	if err == nil || errors.Is(err, ErrConfig) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unwritable --out: %v, want a not-exist error outside ErrConfig", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("a failed write left files: %v", entries)
	}
}

// TestClientBadArgs proves bad flags, values and arguments are configuration
// errors that write nothing, and that --help prints the command's usage.
func TestClientBadArgs(t *testing.T) {
	for _, args := range [][]string{
		{"--bogus"},
		{"--parser", "xml"},
		{"--ping-interval", "soon"},
		{"--out"},
		{"stray"},
	} {
		var stdout bytes.Buffer
		err := Client(args, env(nil), &stdout, io.Discard)
		if !errors.Is(err, ErrConfig) || stdout.Len() != 0 {
			t.Errorf("%q: %v, %d bytes written", args, err, stdout.Len())
		}
	}
	if err := Client(nil, env(map[string]string{"ALLSPARK_PARSER": "xml"}), io.Discard, io.Discard); !errors.Is(err, ErrConfig) {
		t.Errorf("bad variable: %v", err)
	}
	// --out is the command's own flag: the server has none, and files and
	// variables cannot set it.
	if _, err := Load([]string{"--out", "x"}, env(nil), io.Discard); !errors.Is(err, ErrConfig) {
		t.Errorf("server accepted --out: %v", err)
	}

	var stdout, stderr bytes.Buffer
	if err := Client([]string{"--help"}, env(nil), &stdout, &stderr); !errors.Is(err, flag.ErrHelp) || stdout.Len() != 0 {
		t.Fatalf("--help: %v, %d bytes on stdout", err, stdout.Len())
	}
	if !strings.HasPrefix(stderr.String(), "Usage: allspark client") || !strings.Contains(stderr.String(), "--out FILE") {
		t.Errorf("usage: %q", stderr.String())
	}
	stderr.Reset()
	if _, err := Load([]string{"--help"}, env(nil), &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "allspark client") {
		t.Errorf("the server's --help does not mention the client command: %q", stderr.String())
	}
}

// TestClientNode loads the written file in Node, as a page would, and checks
// it defines the client with the configured settings.
func TestClientNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	out := filepath.Join(t.TempDir(), "primus.js")
	if err := Client([]string{"--pathname", "/rt", "--out", out}, env(nil), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	script := `require(process.argv[1]); const P = globalThis.Primus;
if (typeof P !== "function") throw new Error("Primus is " + typeof P);
process.stdout.write(JSON.stringify(P.defaults));`
	got, err := exec.Command(node, "-e", script, out).Output()
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	if want := `{"pathname":"/rt","pingTimeout":45000,"parser":"json"}`; string(got) != want {
		t.Errorf("defaults %s, want %s", got, want)
	}
}
