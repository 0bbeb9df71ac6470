package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/allspark/allspark/internal/app"
)

func TestExitCodes(t *testing.T) {
	var out bytes.Buffer
	if c := exitCode(nil, &out); c != 0 || out.Len() != 0 {
		t.Errorf("success: %d %q", c, out.String())
	}
	if c := exitCode(flag.ErrHelp, &out); c != 0 || out.Len() != 0 {
		t.Errorf("--help: %d %q", c, out.String())
	}
	_, cfgErr := app.Load([]string{"--parser", "xml"}, func(string) string { return "" }, io.Discard)
	if c := exitCode(cfgErr, &out); c != 2 || !strings.HasPrefix(out.String(), "allspark: config: parser") {
		t.Errorf("config error: %d %q", c, out.String())
	}
	out.Reset()
	// A port in use is a run-time error, not a configuration one.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	runErr := app.Run(context.Background(), []string{"--addr", ln.Addr().String()}, func(string) string { return "" }, io.Discard)
	if c := exitCode(runErr, &out); c != 1 || !strings.Contains(out.String(), "address already in use") {
		t.Errorf("listen error: %d %q", c, out.String())
	}
	if c := exitCode(fmt.Errorf("wrapped: %w", errors.New("x")), io.Discard); c != 1 {
		t.Errorf("other error: %d", c)
	}
}

// TestClientCommand proves `allspark client` is dispatched to the client
// command (before it, "client" was an unexpected argument: exit 2) and
// that its exit statuses follow the binary's: 0 written or --help, 2 for a
// configuration error, 1 for a write error.
func TestClientCommand(t *testing.T) {
	noEnv := func(string) string { return "" }
	var stdout, stderr bytes.Buffer
	if c := run([]string{"client", "--pathname", "/rt"}, noEnv, &stdout, &stderr); c != 0 || stderr.Len() != 0 {
		t.Fatalf("client: exit %d, stderr %q", c, stderr.String())
	}
	if !strings.Contains(stdout.String(), `Primus.defaults.pathname="/rt"`) {
		t.Errorf("stdout is not the library for /rt (%d bytes)", stdout.Len())
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"client", "--help"}, 0, "Usage: allspark client"},
		{[]string{"client", "--bogus"}, 2, "allspark: config: flag provided but not defined: -bogus"},
		{[]string{"client", "--parser", "xml"}, 2, "allspark: config: parser"},
		{[]string{"client", "--out", t.TempDir() + "/missing/primus.js"}, 1, "no such file or directory"},
	} {
		stdout.Reset()
		stderr.Reset()
		if c := run(tc.args, noEnv, &stdout, &stderr); c != tc.code || stdout.Len() != 0 || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%q: exit %d (want %d), %d bytes on stdout, stderr %q (want %q)", tc.args, c, tc.code, stdout.Len(), stderr.String(), tc.msg)
		}
	}
}

// TestRecoveryFlagErrorsExitTwo proves a bad history or recovery setting
// stops the binary before it listens, with exit status 2 and one line
// naming the flag or variable.
func TestRecoveryFlagErrorsExitTwo(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{args: []string{"--history", "chat:*=many/10m"}, want: `allspark: config: invalid value "chat:*=many/10m" for flag -history: rule "chat:*=many/10m": size "many"`},
		{args: []string{"--history", "chat:*=10"}, want: `allspark: config: invalid value "chat:*=10" for flag -history: rule "chat:*=10": want PATTERN=SIZE/TTL`},
		{env: map[string]string{"ALLSPARK_HISTORY": "x=1/0s"}, want: "allspark: config: ALLSPARK_HISTORY="},
		{args: []string{"--recovery-window", "-2m"}, want: "allspark: config: recovery-window: negative"},
		{args: []string{"--max-replay", "lots"}, want: `allspark: config: invalid value "lots" for flag -max-replay`},
		{args: []string{"--socketio-recovery=sometimes"}, want: `allspark: config: invalid boolean value "sometimes" for -socketio-recovery`},
	} {
		var stdout, stderr bytes.Buffer
		getenv := func(k string) string { return tc.env[k] }
		args := append([]string{"--addr", "127.0.0.1:0"}, tc.args...)
		if c := run(args, getenv, &stdout, &stderr); c != 2 || !strings.HasPrefix(stderr.String(), tc.want) || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%v %v: exit %d, stderr %q, want it to start with %q", tc.args, tc.env, c, stderr.String(), tc.want)
		}
	}
}
