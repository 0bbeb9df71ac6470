package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

func TestParseFlagsDefaultsAndOptions(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.addr != ":8080" || c.pathname != "/primus" || c.pingInterval != 30*time.Second || c.echo || c.parser != "json" {
		t.Fatalf("defaults %+v", c)
	}
	c, err = parseFlags([]string{"--echo", "--ping-interval", "0", "--parser", "msgpack", "--trusted-proxies", "10.0.0.0/8,127.0.0.1", "--pathname", "rt"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.options(nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.PingInterval != allspark.NoPing || o.Parser.Name() != "msgpack" || len(o.TrustedProxies) != 2 || !c.echo {
		t.Fatalf("options %+v", o)
	}
	if _, err := (config{parser: "xml"}).options(nil); err == nil {
		t.Fatal("unknown parser accepted")
	}
	if _, err := parseFlags([]string{"stray"}, io.Discard); err == nil {
		t.Fatal("stray argument accepted")
	}
	if _, err := parseFlags([]string{"--help"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
}

// syncBuffer lets the test read what run logs while run is still writing.
type syncBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{mu: make(chan struct{}, 1)}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--echo", "--ping-interval", "1s"}, logs) }()
	addrRE := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(logs.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("no listening line in %q", logs.String())
	}
	resp, err := http.Get("http://" + addr + "/primus/spec")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("spec status %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
	if !strings.Contains(logs.String(), "shutting down") {
		t.Fatal("no shutdown log")
	}
}
