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
