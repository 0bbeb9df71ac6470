package main

import (
	"bufio"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/bench/harness/internal/wsframe"
)

// TestCompressionNegotiatedWithTheLoadClient checks what allspark-deflate
// relies on: with -compression the server accepts the load client's offer
// (no context takeover both ways), and the client inflates what comes back.
func TestCompressionNegotiatedWithTheLoadClient(t *testing.T) {
	srv, err := allspark.New(runOptions{compression: true}.options(nil))
	if err != nil {
		t.Fatal(err)
	}
	srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		sp.OnData(func(data any) { _ = sp.Write(data) })
		return nil
	})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr := strings.TrimPrefix(hs.URL, "http://")
	c, br, err := wsframe.Dial(ctx, wsframe.DialOptions{Addr: addr, Path: "/primus", Deflate: true})
	if err != nil {
		t.Fatalf("dial with deflate: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := `"` + strings.Repeat("compress me ", 50) + `"`
	if _, err := c.Write(wsframe.AppendFrame(nil, wsframe.OpText, []byte(msg), &[4]byte{1, 2, 3, 4})); err != nil {
		t.Fatal(err)
	}
	// Peek at the header: the echo must come compressed.
	b, err := br.Peek(1)
	if err != nil {
		t.Fatal(err)
	}
	if b[0]&0x40 == 0 {
		t.Fatalf("echo frame not compressed (first byte %#x)", b[0])
	}
	rd := &wsframe.Reader{R: bufio.NewReader(br), Limit: 1 << 20, Deflate: true}
	_, got, err := rd.ReadMessage()
	if err != nil || string(got) != msg {
		t.Fatalf("echo %q %v", got, err)
	}

	// Without -compression the offer is declined, and Dial says so.
	plain, err := allspark.New(runOptions{}.options(nil))
	if err != nil {
		t.Fatal(err)
	}
	hp := httptest.NewServer(plain)
	defer hp.Close()
	if _, _, err := wsframe.Dial(ctx, wsframe.DialOptions{Addr: strings.TrimPrefix(hp.URL, "http://"), Path: "/primus", Deflate: true}); err == nil {
		t.Fatal("dial with deflate succeeded against a server without compression")
	}
}
