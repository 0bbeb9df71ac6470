package app

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestServeCapsRequestHeaders: a spark keeps its request's headers for its
// life (an event stream's too, which any GET opens), so the binary's
// server refuses more than allspark.DefaultMaxHeaderBytes with 431, and
// serves a stream with headers below that.
func TestServeCapsRequestHeaders(t *testing.T) {
	a, err := New(Config{SSE: true, SSEPath: "sse"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	}()
	status := func(pad int) int {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		req := "GET /primus/sse HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("p", pad) + "\r\n\r\n"
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode // the stream's body is not drained: closing c ends it
	}
	if got := status(100 << 10); got != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB of headers: %d, want 431", got)
	}
	if got := status(32 << 10); got != http.StatusOK {
		t.Errorf("32 KiB of headers: %d, want the stream", got)
	}
}
