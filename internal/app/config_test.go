package app

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "allspark.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c != Default() {
		t.Fatalf("got %+v, want %+v", c, Default())
	}
	if c.Addr != ":8080" || c.Pathname != "/primus" || c.Broker != "memory" || !c.Demo || c.APIToken != "" {
		t.Fatalf("defaults %+v", c)
	}
}

func TestLoadPrecedenceFlagEnvFileDefault(t *testing.T) {
	file := writeFile(t, `{"addr": ":1111", "pathname": "/file", "ping-interval": "5s", "max-length": 4096, "compression": true, "api-token": "from-file"}`)
	e := env(map[string]string{
		"ALLSPARK_CONFIG":   file,
		"ALLSPARK_PATHNAME": "/env",
		"ALLSPARK_ADDR":     ":2222",
		"ALLSPARK_ECHO":     "true",
	})
	c, err := Load([]string{"--addr", ":3333"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":3333" {
		t.Errorf("flag must beat env and file: addr %q", c.Addr)
	}
	if c.Pathname != "/env" {
		t.Errorf("env must beat file: pathname %q", c.Pathname)
	}
	if c.PingInterval != 5*time.Second || c.MaxLength != 4096 || !c.Compression || c.APIToken != "from-file" {
		t.Errorf("file values lost: %+v", c)
	}
	if !c.Echo {
		t.Error("env bool ignored")
	}
	if c.LogFormat != "text" || c.ShutdownTimeout != 10*time.Second {
		t.Errorf("defaults lost: %+v", c)
	}
}

func TestLoadFlagSetToDefaultStillBeatsEnv(t *testing.T) {
	// --demo=true equals the default, but was given: it must override the
	// environment's false.
	c, err := Load([]string{"--demo=true"}, env(map[string]string{"ALLSPARK_DEMO": "false"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Demo {
		t.Fatal("explicit flag lost to the environment")
	}
	c, err = Load(nil, env(map[string]string{"ALLSPARK_DEMO": "false"}), io.Discard)
	if err != nil || c.Demo {
		t.Fatalf("env false ignored: %+v %v", c, err)
	}
}

func TestLoadConfigFlagBeatsConfigEnv(t *testing.T) {
	a := writeFile(t, `{"addr": ":1"}`)
	b := writeFile(t, `{"addr": ":2"}`)
	c, err := Load([]string{"--config", b}, env(map[string]string{"ALLSPARK_CONFIG": a}), io.Discard)
	if err != nil || c.Addr != ":2" {
		t.Fatalf("addr %q err %v", c.Addr, err)
	}
}

func TestLoadEmptyEnvIsUnset(t *testing.T) {
	c, err := Load(nil, env(map[string]string{"ALLSPARK_ADDR": "", "ALLSPARK_PING_INTERVAL": ""}), io.Discard)
	if err != nil || c.Addr != ":8080" || c.PingInterval != 30*time.Second {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestLoadErrorsNameTheSource(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want string
	}{
		{name: "bad env duration", env: map[string]string{"ALLSPARK_PING_INTERVAL": "soon"}, want: "ALLSPARK_PING_INTERVAL"},
		{name: "bad env bool", env: map[string]string{"ALLSPARK_ECHO": "maybe"}, want: "ALLSPARK_ECHO"},
		{name: "bad flag int", args: []string{"--max-length", "big"}, want: "max-length"},
		{name: "unknown flag", args: []string{"--nope"}, want: "nope"},
		{name: "stray argument", args: []string{"stray"}, want: `unexpected argument "stray"`},
		{name: "file unknown key", file: `{"adr": ":1"}`, want: `unknown key "adr"`},
		{name: "file config key", file: `{"config": "x"}`, want: `unknown key "config"`},
		{name: "file bad json", file: `{"addr": `, want: "file"},
		{name: "file not an object", file: `[1]`, want: "file"},
		{name: "file trailing data", file: `{"addr": ":1"} {}`, want: "data after"},
		{name: "file nested value", file: `{"addr": {"host": "x"}}`, want: `key "addr"`},
		{name: "file bad duration", file: `{"shutdown-timeout": 5}`, want: `key "shutdown-timeout"`},
		{name: "missing file", env: map[string]string{"ALLSPARK_CONFIG": "/nonexistent/allspark.json"}, want: "file"},
		{name: "unknown parser", args: []string{"--parser", "xml"}, want: "parser"},
		{name: "unknown broker", args: []string{"--broker", "redis"}, want: "broker"},
		{name: "bad log format", args: []string{"--log-format", "yaml"}, want: "log-format"},
		{name: "bad log level", env: map[string]string{"ALLSPARK_LOG_LEVEL": "loud"}, want: "log-level"},
		{name: "negative ping", args: []string{"--ping-interval", "-1s"}, want: "ping-interval"},
		{name: "negative body", args: []string{"--api-max-body", "-1"}, want: "api-max-body"},
		{name: "history without size", args: []string{"--history", "chat:*=10m"}, want: "history"},
		{name: "history without pattern", args: []string{"--history", "=10/1m"}, want: "history"},
		{name: "history bad pattern", args: []string{"--history", "chat[=10/1m"}, want: `history: rule "chat[=10/1m": pattern`},
		{name: "history zero size", env: map[string]string{"ALLSPARK_HISTORY": "a=0/1m"}, want: "ALLSPARK_HISTORY"},
		{name: "history bad ttl", file: `{"history": "a=10/soon"}`, want: `key "history": rule "a=10/soon": "soon": want a positive duration`},
		{name: "history negative ttl", args: []string{"--history", "a=10/-1m"}, want: "history"},
		{name: "history meta shorter than ttl", args: []string{"--history", "a=10/1h/1m"}, want: "meta TTL"},
		{name: "history too many parts", args: []string{"--history", "a=10/1m/1h/1h"}, want: "history"},
		{name: "history second rule bad", args: []string{"--history", "a=1/1m,b"}, want: `rule "b"`},
		{name: "negative recovery window", args: []string{"--recovery-window", "-1s"}, want: "recovery-window"},
		{name: "bad recovery window", env: map[string]string{"ALLSPARK_RECOVERY_WINDOW": "long"}, want: "ALLSPARK_RECOVERY_WINDOW"},
		{name: "negative max replay", args: []string{"--max-replay", "-5"}, want: "max-replay"},
		{name: "bad recovery bool", args: []string{"--recovery=perhaps"}, want: "recovery"},
		{name: "origin without scheme", env: map[string]string{"ALLSPARK_ORIGINS": "https://ok.example, app.example"}, want: `origins: "app.example" is not an origin`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := map[string]string{}
			for k, v := range tc.env {
				e[k] = v
			}
			if tc.file != "" {
				e["ALLSPARK_CONFIG"] = writeFile(t, tc.file)
			}
			_, err := Load(tc.args, env(e), io.Discard)
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %q does not name %q", err, tc.want)
			}
		})
	}
}

func TestLoadHistoryAndRecovery(t *testing.T) {
	rule := func(p string, size int, ttl, meta time.Duration) allspark.HistoryRule {
		return allspark.HistoryRule{Pattern: p, Size: size, TTL: ttl, MetaTTL: meta}
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		file string
		want []allspark.HistoryRule
	}{
		{name: "demo default", want: []allspark.HistoryRule{rule("*", 1000, 10*time.Minute, 0)}},
		{name: "no demo, no history", args: []string{"--demo=false"}},
		{name: "echo turns the demo and its history off", args: []string{"--echo"}},
		{name: "msgpack turns the demo and its history off", args: []string{"--parser", "msgpack"}},
		{name: "msgpack with history", args: []string{"--parser", "msgpack", "--history", "m=1/1s"}, want: []allspark.HistoryRule{rule("m", 1, time.Second, 0)}},
		{name: "empty keeps none", args: []string{"--history="}},
		{name: "one rule replaces the demo's", args: []string{"--history", "chat:*=1000/10m"}, want: []allspark.HistoryRule{rule("chat:*", 1000, 10*time.Minute, 0)}},
		{name: "with meta TTL", args: []string{"--history", "lobby=5/30s/1h"}, want: []allspark.HistoryRule{rule("lobby", 5, 30*time.Second, time.Hour)}},
		{name: "comma-separated, order kept", args: []string{"--history", "a:x=1/1m, a:*=2/2m"},
			want: []allspark.HistoryRule{rule("a:x", 1, time.Minute, 0), rule("a:*", 2, 2*time.Minute, 0)}},
		{name: "repeated flags append", args: []string{"--history", "a=1/1m", "--history", "b=2/2m"},
			want: []allspark.HistoryRule{rule("a", 1, time.Minute, 0), rule("b", 2, 2*time.Minute, 0)}},
		{name: "pattern may hold =", args: []string{"--history", "k=v=3/1s"}, want: []allspark.HistoryRule{rule("k=v", 3, time.Second, 0)}},
		{name: "history without the demo", args: []string{"--echo", "--history", "r=1/1m"}, want: []allspark.HistoryRule{rule("r", 1, time.Minute, 0)}},
		{name: "env beats file, replacing", env: map[string]string{"ALLSPARK_HISTORY": "env=1/1m"}, file: `{"history": "file=2/2m"}`,
			want: []allspark.HistoryRule{rule("env", 1, time.Minute, 0)}},
		{name: "flag beats env, replacing", args: []string{"--history", "flag=3/3m"}, env: map[string]string{"ALLSPARK_HISTORY": "env=1/1m"},
			want: []allspark.HistoryRule{rule("flag", 3, 3*time.Minute, 0)}},
		{name: "file alone", file: `{"history": "file=2/2m", "demo": false}`, want: []allspark.HistoryRule{rule("file", 2, 2*time.Minute, 0)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := map[string]string{}
			for k, v := range tc.env {
				e[k] = v
			}
			if tc.file != "" {
				e["ALLSPARK_CONFIG"] = writeFile(t, tc.file)
			}
			c, err := Load(tc.args, env(e), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			o, err := c.options(slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(o.History.Rooms, tc.want) {
				t.Fatalf("rules %+v, want %+v (history %q)", o.History.Rooms, tc.want, c.History)
			}
		})
	}
}

func TestLoadRecoveryOptions(t *testing.T) {
	c, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.options(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if o.Recovery.Disabled || o.Recovery.Window != allspark.DefaultRecoveryWindow || o.Recovery.MaxReplay != allspark.DefaultMaxReplay || o.SocketIO.Recovery {
		t.Fatalf("defaults: %+v, socket.io recovery %v", o.Recovery, o.SocketIO.Recovery)
	}
	c, err = Load([]string{"--recovery=false", "--recovery-window", "45s", "--max-replay", "7"},
		env(map[string]string{"ALLSPARK_SOCKETIO_RECOVERY": "true"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o, err = c.options(slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if !o.Recovery.Disabled || o.Recovery.Window != 45*time.Second || o.Recovery.MaxReplay != 7 || !o.SocketIO.Recovery {
		t.Fatalf("set: %+v, socket.io recovery %v", o.Recovery, o.SocketIO.Recovery)
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	_, err := Load([]string{"--help"}, env(nil), &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v", err)
	}
	help := out.String()
	for _, s := range settings {
		for _, want := range []string{"--" + s.name, s.env(), s.usage} {
			if !strings.Contains(help, want) {
				t.Errorf("--help lacks %q", want)
			}
		}
	}
	for _, want := range []string{"--config", "ALLSPARK_CONFIG", "default :8080", "default /primus", "default memory",
		"POST /api/publish", "/metrics", "/readyz", `"publish":"NAME"`, "?room=NAME"} {
		if !strings.Contains(help, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
}

func TestLogValueMasksSecrets(t *testing.T) {
	c := Default()
	c.APIToken = "hunter2"
	var out bytes.Buffer
	slog.New(slog.NewTextHandler(&out, nil)).Info("config", "config", c)
	line := out.String()
	if strings.Contains(line, "hunter2") {
		t.Fatalf("token leaked: %s", line)
	}
	for _, want := range []string{"config.api-token=" + Masked, "config.addr=:8080", "config.ping-interval=30s", "config.demo=true"} {
		if !strings.Contains(line, want) {
			t.Errorf("printed config lacks %q: %s", want, line)
		}
	}
	out.Reset()
	slog.New(slog.NewTextHandler(&out, nil)).Info("config", "config", Default())
	if strings.Contains(out.String(), Masked) || !strings.Contains(out.String(), `config.api-token=""`) {
		t.Errorf("an unset token must print as empty: %s", out.String())
	}
}

func TestNewLoggerFormats(t *testing.T) {
	var out bytes.Buffer
	c := Default()
	c.LogFormat = "json"
	c.LogLevel = "warn"
	l := NewLogger(c, &out)
	l.Info("hidden")
	l.Warn("shown", "k", 1)
	if got := out.String(); strings.Contains(got, "hidden") || !strings.HasPrefix(got, `{"time":`) || !strings.Contains(got, `"k":1`) {
		t.Fatalf("json logger wrote %q", got)
	}
	out.Reset()
	NewLogger(Config{}, &out).Info("plain", "k", 1)
	if got := out.String(); !strings.Contains(got, "msg=plain k=1") {
		t.Fatalf("text logger wrote %q", got)
	}
}

func TestEchoTurnsTheDemoOffUnlessAsked(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want bool
	}{
		{args: nil, want: true},
		{args: []string{"--echo"}, want: false},
		{args: []string{"--echo", "--demo"}, want: true},
		{args: []string{"--echo"}, env: map[string]string{"ALLSPARK_DEMO": "true"}, want: true},
		{env: map[string]string{"ALLSPARK_ECHO": "1"}, want: false},
	} {
		c, err := Load(tc.args, env(tc.env), io.Discard)
		if err != nil || c.Demo != tc.want {
			t.Errorf("%v %v: demo %v (err %v), want %v", tc.args, tc.env, c.Demo, err, tc.want)
		}
	}
}

func TestBadFlagIsOneLineNotTheUsage(t *testing.T) {
	var out bytes.Buffer
	_, err := Load([]string{"--ping-interval", "soon"}, env(nil), &out)
	if err == nil || out.Len() != 0 {
		t.Fatalf("err %v, printed %q", err, out.String())
	}
	if !strings.Contains(err.Error(), "see --help") {
		t.Fatalf("err %v", err)
	}
	_, err = Load(nil, env(map[string]string{"ALLSPARK_PING_INTERVAL": "soon"}), &out)
	if err == nil || !strings.Contains(err.Error(), "want a duration such as 30s") {
		t.Fatalf("env error does not say what is expected: %v", err)
	}
}

// --origins and ALLSPARK_ORIGINS reach the server's CORS.Origins, and the
// binary's server then accepts upgrades from those pages, from its own
// origin (the demo) and from clients without Origin, and refuses the rest.
func TestOriginsFlagAndEnv(t *testing.T) {
	c, err := Load([]string{"--origins", " https://a.example ,https://*.b.example,"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.origins(); !slices.Equal(got, []string{"https://a.example", "https://*.b.example"}) {
		t.Fatalf("origins %q", got)
	}
	c, err = Load(nil, env(map[string]string{"ALLSPARK_ORIGINS": "https://env.example"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	slog.New(slog.NewTextHandler(&out, nil)).Info("config", "config", c)
	if !strings.Contains(out.String(), "config.origins=https://env.example") {
		t.Errorf("config log line lacks the origins: %s", out.String())
	}

	ta := startApp(t, c)
	host := strings.TrimPrefix(ta.url, "http://")
	for origin, want := range map[string]int{
		"":                     http.StatusSwitchingProtocols,
		"https://env.example":  http.StatusSwitchingProtocols,
		"http://" + host:       http.StatusSwitchingProtocols,
		"https://evil.example": http.StatusForbidden,
	} {
		req, _ := http.NewRequest(http.MethodGet, ta.url+"/primus", nil)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Origin %q: status %d, want %d", origin, resp.StatusCode, want)
		}
	}
}
