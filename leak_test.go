package allspark_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/lxzan/gws"
)

// TestConnectDisconnectCyclesLeaveNothing runs 10,000 connect/echo/disconnect
// cycles and checks that goroutines and live heap return to the baseline:
// sparks, queues, hooks and engine buffers are all released.
func TestConnectDisconnectCyclesLeaveNothing(t *testing.T) {
	cycles := 10000
	if testing.Short() {
		cycles = 1000
	}
	srv, url := startServer(t, allspark.Options{PingInterval: 50 * time.Millisecond}, func(s *allspark.Server) {
		echo(s)
		s.OnConnection(func(ctx context.Context, sp *allspark.Spark) error {
			sp.Set("k", make([]byte, 1024)) // per-spark state must be freed too
			return nil
		})
	})

	// Warm up pools and the HTTP server, then take the baseline.
	runCycles(t, url, 200)
	waitFor(t, "warm-up drained", func() bool { return srv.Len() == 0 })
	baseG, baseHeap := settle()

	runCycles(t, url, cycles)
	waitFor(t, "all sparks gone", func() bool { return srv.Len() == 0 })
	assertBackToBaseline(t, fmt.Sprintf("%d cycles", cycles), baseG, baseHeap)
	if st := srv.Stats(); st.Accepted < uint64(cycles) {
		t.Errorf("accepted %d < %d", st.Accepted, cycles)
	}
}

// assertBackToBaseline waits up to 10 s for goroutines (± 2) and live heap
// (+ 4 MiB) to come back to the baseline taken before the cycles.
func assertBackToBaseline(t *testing.T, what string, baseG int, baseHeap uint64) {
	t.Helper()
	var g int
	var heap uint64
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, heap = settle()
		if (g <= baseG+2 && heap <= baseHeap+4<<20) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%s: goroutines %d → %d, heap %d KiB → %d KiB", what, baseG, g, baseHeap>>10, heap>>10)
	if g > baseG+2 {
		t.Errorf("goroutines grew from %d to %d", baseG, g)
	}
	if heap > baseHeap+4<<20 {
		t.Errorf("live heap grew from %d KiB to %d KiB", baseHeap>>10, heap>>10)
	}
}

func settle() (goroutines int, heap uint64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), ms.HeapAlloc
}

// runCycles opens, uses and closes n connections with 8 concurrent workers.
func runCycles(t *testing.T, url string, n int) {
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	per := n / workers
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				if err := oneCycle(url); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

type cycleEvents struct {
	gws.BuiltinEventHandler
	got    chan struct{}
	closed chan struct{}
}

func (e *cycleEvents) OnMessage(_ *gws.Conn, m *gws.Message) {
	m.Close()
	select {
	case e.got <- struct{}{}:
	default:
	}
}
func (e *cycleEvents) OnClose(*gws.Conn, error) { close(e.closed) }

func oneCycle(url string) error {
	ev := &cycleEvents{got: make(chan struct{}, 1), closed: make(chan struct{})}
	conn, _, err := gws.NewClient(ev, &gws.ClientOption{Addr: wsURL(url, "/primus")})
	if err != nil {
		return err
	}
	go conn.ReadLoop()
	_ = conn.WriteString(`"hi"`)
	select {
	case <-ev.got:
	case <-time.After(waitLong):
	}
	_ = conn.WriteClose(1000, nil)
	<-ev.closed
	return nil
}

// TestSocketIOCyclesLeaveNothing: Socket.IO connections (Engine.IO
// session, connection, namespace socket, spark) are all released after
// their clients leave, and no goroutine stays behind.
func TestSocketIOCyclesLeaveNothing(t *testing.T) {
	cycles := 2000
	if testing.Short() {
		cycles = 400
	}
	srv, url := startServer(t, allspark.Options{}, echo)
	run := func(n int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range n / 8 {
					if err := sioCycle(url); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	run(80)
	waitFor(t, "warm-up drained", func() bool { return srv.Len() == 0 })
	baseG, baseHeap := settle()
	run(cycles)
	waitFor(t, "all sparks gone", func() bool { return srv.Len() == 0 })
	assertBackToBaseline(t, fmt.Sprintf("%d Socket.IO cycles", cycles), baseG, baseHeap)
}

// sioCycle connects a raw Socket.IO client over WebSocket, joins "/",
// has a message echoed, leaves the namespace and closes.
func sioCycle(url string) error {
	ev := &cycleEvents{got: make(chan struct{}, 4), closed: make(chan struct{})}
	conn, _, err := gws.NewClient(ev, &gws.ClientOption{Addr: wsURL(url, "/socket.io/?EIO=4&transport=websocket")})
	if err != nil {
		return err
	}
	go conn.ReadLoop()
	for _, step := range []string{"", "40", `42["message","hi"]`} {
		if step != "" {
			_ = conn.WriteString(step)
		}
		select {
		case <-ev.got:
		case <-time.After(waitLong):
		}
	}
	_ = conn.WriteString("41")
	_ = conn.WriteClose(1000, nil)
	<-ev.closed
	return nil
}
