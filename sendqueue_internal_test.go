package allspark

import "testing"

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
