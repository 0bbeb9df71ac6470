package websocket

import (
	"fmt"
	"testing"
	"time"
)

// A message whose frames arrive a byte at a time, each byte its own
// readiness event (the client pauses between writes), with a ping between
// two fragments: the message is delivered whole and once, the ping
// answered in between.
func TestFramesTrickleAcrossReadinessEvents(t *testing.T) {
	eachEngine(t, func(t *testing.T) {
		addr, conns := startEngine(t, Config{}, nil)
		c := dialRaw(t, addr, "", nil)
		h := nextConn(t, conns)
		stream := clientFrame(false, 0x1, []byte("hel"))
		stream = append(stream, clientFrame(true, 0x9, []byte("p"))...)
		stream = append(stream, clientFrame(true, 0x0, []byte("lo"))...)
		for i := range stream {
			c.send(t, stream[i:i+1])
			time.Sleep(2 * time.Millisecond)
		}
		select {
		case got := <-h.msgs:
			if got != "hello" {
				t.Fatalf("got %q, want hello", got)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the trickled message was not delivered")
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b0, payload, err := c.readFrame()
		if err != nil || b0&0x0f != 0xA || string(payload) != "p" {
			t.Fatalf("pong: opcode %#x payload %q err %v", b0&0x0f, payload, err)
		}
		expectNoMsg(t, h, 50*time.Millisecond)
		c.Close()
		h.waitClosed(t)
	})
}

// Closing or aborting from another goroutine while the reader is busy
// with a peer that never stops sending: OnClose runs once, nothing is
// delivered after it, a Close ends with our Close frame, and no reader
// goroutine is left behind (goleak, TestMain).
func TestCloseDuringARead(t *testing.T) {
	for _, how := range []string{"close", "abort"} {
		t.Run(how, func(t *testing.T) {
			eachEngine(t, func(t *testing.T) {
				addr, conns := startEngine(t, Config{}, nil)
				c := dialRaw(t, addr, "", nil)
				h := nextConn(t, conns)
				sent := make(chan struct{})
				go func() { // a peer that streams until the socket fails
					defer close(sent)
					for i := 0; ; i++ {
						if _, err := c.Write(clientFrame(true, 0x1, fmt.Appendf(nil, "m%d", i))); err != nil {
							return
						}
					}
				}()
				for range 50 { // the reader is mid-stream
					select {
					case <-h.msgs:
					case <-time.After(5 * time.Second):
						t.Fatal("messages stopped before the close")
					}
				}
				stop := make(chan struct{})
				consumed := make(chan struct{})
				go func() { // keep taking deliveries: a handler that never blocks
					defer close(consumed)
					for {
						select {
						case <-h.msgs:
						case <-stop:
							return
						}
					}
				}()
				var err error
				if how == "close" {
					err = h.conn.Close(1001, "going away")
				} else {
					err = h.conn.Abort()
				}
				if err != nil {
					t.Logf("%s: %v", how, err)
				}
				h.waitClosed(t)
				delivered := len(h.eventLog())
				select {
				case err := <-h.closed:
					t.Fatalf("OnClose called twice (%v)", err)
				case <-time.After(200 * time.Millisecond):
				}
				if after := len(h.eventLog()); after != delivered {
					t.Fatalf("%d messages delivered after OnClose", after-delivered)
				}
				close(stop)
				<-consumed
				if how == "close" {
					_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
					_, code, _ := c.readUntilClose(t)
					if code != 1001 {
						t.Fatalf("close code %d, want 1001", code)
					}
				}
				c.Close()
				<-sent
			})
		})
	}
}
