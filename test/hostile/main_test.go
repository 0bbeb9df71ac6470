package hostile_test

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"go.uber.org/goleak"
)

// TestMain runs the suite, then checks that no goroutine outlives it:
// every test shuts its server down and closes its sockets, so a survivor is
// a leak in the server (or in this suite).
//
// Around the suite it also watches one slowloris connection: a partial
// upgrade request to a server run by Serve, with a header byte every 500 ms.
// ReadHeaderTimeout (10 s) must cut it. Waiting 10 s in a test of its own
// would double the suite's time, so the watch runs beside the whole package
// and is judged only on a full run (no -run filter), which lasts longer.
func TestMain(m *testing.M) {
	if spec := os.Getenv(sseHelperEnv); spec != "" {
		os.Exit(sseHolderMain(spec)) // a child process of TestSSEIdleSubscribers
	}
	flag.Parse()
	w, err := startLorisWatch()
	if err != nil {
		fmt.Fprintln(os.Stderr, "slowloris watch:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := w.finish(flag.Lookup("test.run").Value.String() == ""); err != nil {
		fmt.Fprintln(os.Stderr, "--- FAIL: slowloris watch (ReadHeaderTimeout):", err)
		if code == 0 {
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// lorisWatch is one trickling upgrade and the server it targets.
type lorisWatch struct {
	srv      *allspark.Server
	served   chan error
	conn     net.Conn
	start    time.Time
	cut      chan struct{} // closed when the server closed the connection
	cutAfter time.Duration // how long after start; set before cut is closed
	stop     chan struct{}
}

func startLorisWatch() (*lorisWatch, error) {
	srv, err := allspark.New(allspark.Options{PingInterval: allspark.NoPing})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	w := &lorisWatch{srv: srv, served: make(chan error, 1), cut: make(chan struct{}), stop: make(chan struct{})}
	go func() { w.served <- srv.Serve(ln) }()
	w.conn, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, err
	}
	w.start = time.Now()
	if _, err := fmt.Fprintf(w.conn, "GET /primus HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nX-Slow: ", ln.Addr()); err != nil {
		return nil, err
	}
	go func() { // notices the cut
		_, _ = io.Copy(io.Discard, w.conn)
		w.cutAfter = time.Since(w.start)
		close(w.cut)
	}()
	go func() { // trickles
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				if _, err := w.conn.Write([]byte{'a'}); err != nil {
					return
				}
			}
		}
	}()
	return w, nil
}

// finish stops the watch; with judge it first waits for the cut (up to 13 s
// after the start) and reports when it did not come in time.
func (w *lorisWatch) finish(judge bool) error {
	var err error
	if judge {
		select {
		case <-w.cut:
		case <-time.After(max(time.Until(w.start.Add(13*time.Second)), 0)):
		}
		select {
		case <-w.cut:
			if w.cutAfter < 9*time.Second {
				err = fmt.Errorf("trickling upgrade cut after %v, before ReadHeaderTimeout", w.cutAfter)
			}
		default:
			err = fmt.Errorf("a partial upgrade trickling a header byte each 500 ms was still open after %v",
				time.Since(w.start).Round(time.Second))
		}
	}
	close(w.stop)
	w.conn.Close()
	<-w.cut
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = w.srv.Shutdown(ctx, allspark.ShutdownOptions{})
	<-w.served
	return err
}
