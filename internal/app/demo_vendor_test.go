package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/allspark/allspark"
)

// vendorPin is what demo/vendor/README.md pins the socket.io-client bundle to.
type vendorPin struct{ version, integrity, sha256 string }

func readVendorPin(t *testing.T) vendorPin {
	t.Helper()
	note, err := os.ReadFile("demo/vendor/README.md")
	if err != nil {
		t.Fatal(err)
	}
	field := func(re string) string {
		m := regexp.MustCompile(`(?m)^- ` + re + `: (\S+)$`).FindSubmatch(note)
		if m == nil {
			t.Fatalf("demo/vendor/README.md has no line %q", re)
		}
		return string(m[1])
	}
	return vendorPin{
		version:   field(`version`),
		integrity: field(`npm integrity \(package-lock\.json, ` + "`node_modules/socket.io-client`" + `\)`),
		sha256:    field(`sha256 of socket\.io\.min\.js`),
	}
}

// TestVendoredSocketIOClient checks that the embedded socket.io-client bundle
// is the one demo/vendor/README.md pins, that package-lock.json pins the same
// npm release, that the file is byte for byte the installed package's (when
// node_modules is there), and that the demo serves it.
func TestVendoredSocketIOClient(t *testing.T) {
	pin := readVendorPin(t)
	embedded, err := demoFiles.ReadFile(socketIOClient)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(embedded)
	if got := hex.EncodeToString(sum[:]); got != pin.sha256 {
		t.Errorf("embedded %s: sha256 %s, the note pins %s", socketIOClient, got, pin.sha256)
	}
	if !bytes.Contains(embedded[:min(len(embedded), 200)], []byte("Socket.IO v"+pin.version+"\n")) {
		t.Errorf("the bundle's banner does not name v%s", pin.version)
	}

	lockFile, err := os.ReadFile(filepath.Join("..", "..", "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct {
			Version   string `json:"version"`
			Integrity string `json:"integrity"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(lockFile, &lock); err != nil {
		t.Fatal(err)
	}
	pkg, ok := lock.Packages["node_modules/socket.io-client"]
	switch {
	case !ok:
		t.Error("package-lock.json has no node_modules/socket.io-client")
	case pkg.Version != pin.version || pkg.Integrity != pin.integrity:
		t.Errorf("package-lock.json pins socket.io-client %s (%s), the vendored copy is %s (%s): update demo/vendor",
			pkg.Version, pkg.Integrity, pin.version, pin.integrity)
	}

	installed, err := os.ReadFile(filepath.Join("..", "..", "node_modules", "socket.io-client", "dist", "socket.io.min.js"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		t.Log("node_modules not installed: the byte-for-byte comparison is skipped")
	case err != nil:
		t.Fatal(err)
	case !bytes.Equal(installed, embedded):
		t.Error("demo/vendor/socket.io.min.js differs from node_modules/socket.io-client/dist/socket.io.min.js")
	}

	ta := startApp(t, Config{Demo: true})
	resp, body := fetch(t, "GET", ta.url+socketIOClientRoute, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || body != string(embedded) {
		t.Fatalf("%s: %d %q, %d bytes", socketIOClientRoute, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
}

// TestDemoPageSocketIOPath checks that the page tells its Socket.IO client
// the configured path (and the library's pathname), escaped for HTML.
func TestDemoPageSocketIOPath(t *testing.T) {
	opts := allspark.Options{Pathname: "/rt", SocketIO: allspark.SocketIOOptions{Path: `/io"x/`}}
	as, err := loadAsset("demo/index.html", "text/html; charset=utf-8", opts)
	if err != nil {
		t.Fatal(err)
	}
	page := string(as.body)
	if !strings.Contains(page, `<meta name="socketio-path" content="/io&#34;x/">`) || strings.Contains(page, allspark.DefaultSocketIOPath) {
		t.Errorf("page does not carry the Socket.IO path:\n%s", page)
	}
	if !strings.Contains(page, `<script src="/rt/primus.js">`) {
		t.Error("page does not follow the pathname")
	}
}
