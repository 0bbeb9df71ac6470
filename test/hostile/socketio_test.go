package hostile_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// sioPeer opens a raw Socket.IO connection over WebSocket and joins the
// main namespace.
func sioPeer(t testing.TB, addr string) *peer {
	t.Helper()
	p, err := dial(addr, "/socket.io/", dialOpts{Query: "EIO=4&transport=websocket&" + hostileQuery})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	if open, err := p.ReadMessage(5 * time.Second); err != nil || !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet %q: %v", open, err)
	}
	if err := p.WriteText("40"); err != nil {
		t.Fatal(err)
	}
	if reply, err := p.ReadMessage(5 * time.Second); err != nil || !strings.HasPrefix(reply, "40{") {
		t.Fatalf("CONNECT reply %q: %v", reply, err)
	}
	return p
}

// assertServesSocketIO checks that a well-behaved Socket.IO client still
// gets its data echoed (the scenario servers echo data).
func assertServesSocketIO(t testing.TB, s *server) {
	t.Helper()
	p, err := dial(s.Addr, "/socket.io/", dialOpts{Query: "EIO=4&transport=websocket"})
	if err != nil {
		t.Fatalf("a well-behaved Socket.IO client cannot connect: %v", err)
	}
	defer p.Close()
	_, _ = p.ReadMessage(5 * time.Second)
	_ = p.WriteText("40")
	_, _ = p.ReadMessage(5 * time.Second)
	_ = p.WriteText(`42["message","probe"]`)
	if got, err := p.ReadMessage(5 * time.Second); err != nil || got != `42["message","probe"]` {
		t.Errorf("a well-behaved Socket.IO client is not served: %q %v", got, err)
	}
}

// TestSocketIOFloodOfUnknownNamespaces: CONNECTs to namespaces that do
// not exist are each answered CONNECT_ERROR and leave nothing behind.
func TestSocketIOFloodOfUnknownNamespaces(t *testing.T) {
	const n = 20000
	s := startServer(t, allspark.Options{}, nil)
	p := sioPeer(t, s.Addr)
	base := heap()
	replies := make(chan error, 1)
	go func() {
		for i := range n {
			m, err := p.ReadMessage(10 * time.Second)
			if err != nil {
				replies <- err
				return
			}
			if !strings.HasPrefix(m, "44/") || !strings.Contains(m, "Invalid namespace") {
				replies <- fmt.Errorf("reply %d = %q", i, m)
				return
			}
		}
		replies <- nil
	}()
	var batch []byte
	for i := range n {
		batch = appendFrame(batch, true, false, opText, fmt.Appendf(nil, "40/ns%d,{\"pad\":%q}", i, strings.Repeat("x", 64)))
		if len(batch) > 64<<10 {
			if err := p.Write(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := p.Write(batch); err != nil {
		t.Fatal(err)
	}
	if err := <-replies; err != nil {
		t.Fatal(err)
	}
	assertHeapBelow(t, base, 4*MiB, 0, "after 20,000 CONNECTs to unknown namespaces")
	assertServesSocketIO(t, s)
}

// TestSocketIOAcksForUnknownIDs: replies to requests the server never
// made are dropped, with nothing kept and the connection open.
func TestSocketIOAcksForUnknownIDs(t *testing.T) {
	const n = 20000
	s := startServer(t, allspark.Options{}, nil)
	p := sioPeer(t, s.Addr)
	base := heap()
	var batch []byte
	for i := range n {
		batch = appendFrame(batch, true, false, opText, fmt.Appendf(nil, `43%d["late"]`, i+1))
		if len(batch) > 64<<10 {
			if err := p.Write(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	_ = p.Write(batch)
	// The connection still works: an unknown event with an ack id is
	// answered with an ack error after the flood.
	_ = p.WriteText(`427["nobody"]`)
	got, err := p.ReadMessage(10 * time.Second)
	if err != nil || !strings.HasPrefix(got, `437[{"error":{"code":"unknown_event"`) {
		t.Fatalf("after the flood: %q %v", got, err)
	}
	assertHeapBelow(t, base, 2*MiB, 0, "after 20,000 acks for unknown ids")
}

// TestSocketIOAttachmentsPastTheLimit: a binary packet whose attachments
// add up to more than MaxLength closes the connection ("parse error")
// without the server holding more than that; announcing more attachments
// than MaxAttachments closes it at once.
func TestSocketIOAttachmentsPastTheLimit(t *testing.T) {
	const limit = 1 << 20
	s := startServer(t, allspark.Options{MaxLength: limit}, nil)
	reasons := make(chan string, 4)
	s.OnDisconnecting(func(_ *allspark.Spark, r string) { reasons <- r })
	base := heap()
	p := sioPeer(t, s.Addr)
	_ = p.WriteText(`453-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]`)
	chunk := make([]byte, limit/2)
	var werr error
	for range 3 {
		if werr = p.WriteFrame(opBinary, chunk); werr != nil {
			break
		}
	}
	if code, err := p.drainUntilClose(10 * time.Second); err != nil && code == 0 && werr == nil {
		t.Fatalf("not closed: %v", err)
	}
	select {
	case r := <-reasons:
		if r != allspark.ReasonParseError {
			t.Errorf("reason %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the socket did not end")
	}
	assertHeapBelow(t, base, 4*MiB, 0, "after attachments past MaxLength")

	q := sioPeer(t, s.Addr)
	_ = q.WriteText(`4999-["up"]`)
	if _, err := q.drainUntilClose(10 * time.Second); err != nil && !isReset(err) && !errors.Is(err, io.EOF) {
		t.Errorf("close: %v", err)
	}
	select {
	case r := <-reasons:
		if r != allspark.ReasonParseError {
			t.Errorf("reason %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("announcing 999 attachments did not end the socket")
	}
	assertServesSocketIO(t, s)
}
