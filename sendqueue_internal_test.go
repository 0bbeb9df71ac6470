package allspark

import (
	"testing"

	"github.com/allspark/allspark/internal/transport"
)

func TestSendQueueBoundsAndPolicies(t *testing.T) {
	var q sendQueue
	if res, start := q.push(frame{Payload: []byte("1")}, 2, false); res != pushed || !start {
		t.Fatalf("first push: %v %v", res, start)
	}
	if res, start := q.push(frame{Payload: []byte("2")}, 2, false); res != pushed || start {
		t.Fatalf("second push: %v %v (writer already running)", res, start)
	}
	if res, _ := q.push(frame{Payload: []byte("3")}, 2, false); res != pushFull {
		t.Fatalf("push over the bound: %v", res)
	}
	if res, _ := q.push(frame{Payload: []byte("3")}, 2, true); res != pushedDrop || string(q.frames[0].Payload) != "2" || len(q.frames) != 2 {
		t.Fatalf("drop-oldest: %v %v", res, q.frames)
	}
	if q.closeGracefully(1000) {
		t.Fatal("closeGracefully must not start a second writer")
	}
	if res, _ := q.push(frame{}, 2, false); res != pushClosed {
		t.Fatalf("push after close: %v", res)
	}
	q.drop()
	if q.len() != 0 {
		t.Fatal("drop kept frames")
	}
}

// TestVolatilePushOnlyReachesAnIdleQueue: a volatile write is queued only
// when nothing is queued and no writer owns the socket.
func TestVolatilePushOnlyReachesAnIdleQueue(t *testing.T) {
	var q sendQueue
	if queued, start := q.pushIfIdle(frame{Payload: []byte("1")}); !queued || !start {
		t.Fatalf("idle queue: queued %v start %v", queued, start)
	}
	if queued, _ := q.pushIfIdle(frame{Payload: []byte("2")}); queued {
		t.Fatal("queued behind a running writer")
	}
	q.mu.Lock()
	q.frames, q.running = nil, false
	q.mu.Unlock()
	if queued, _ := q.pushIfIdle(frame{}); !queued {
		t.Fatal("refused by an idle queue")
	}
	q.drop()
	if queued, _ := q.pushIfIdle(frame{}); queued {
		t.Fatal("queued on a dropped queue")
	}
}

// queueHost is a writerHost whose session takes every batch.
type queueHost struct{ conn nullConn }

func (h *queueHost) session() transport.Session { return &h.conn }
func (h *queueHost) written(int, int)           {}
func (h *queueHost) writerFinished(error)       {}

// An idle queue keeps one slice, not the two its writer alternates
// between, and a steady push-then-drain (a heartbeat's ping) allocates
// nothing once that slice exists.
func TestIdleQueueKeepsOneSlice(t *testing.T) {
	var q sendQueue
	var h queueHost
	ping := frame{Payload: []byte("ping")}
	cycle := func() {
		if _, start := q.push(ping, 8, false); !start {
			t.Fatal("the writer did not need starting")
		}
		q.writeLoop(&h)
	}
	cycle()
	cycle()
	q.mu.Lock()
	frames, spare := q.frames, q.spare
	q.mu.Unlock()
	if frames != nil || cap(spare) == 0 {
		t.Fatalf("idle queue holds frames cap %d and spare cap %d, want only a spare", cap(frames), cap(spare))
	}
	if n := testing.AllocsPerRun(100, cycle); n != 0 {
		t.Fatalf("push and drain allocate %v times", n)
	}
}
