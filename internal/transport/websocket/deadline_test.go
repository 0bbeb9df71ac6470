package websocket

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// The write timeout bounds how long a peer may accept nothing, not how long
// a batch may take. These tests shrink the socket buffers so a 2 MiB batch
// cannot hide in the kernel.

const testWriteTimeout = 300 * time.Millisecond

// startSmallBuffers upgrades one connection with small socket buffers on
// both ends and returns the client and the server-side Conn.
func startSmallBuffers(t *testing.T) (*rawClient, *recorder) {
	t.Helper()
	addr, conns := startEngine(t, Config{WriteTimeout: testWriteTimeout}, nil)
	c := dialRaw(t, addr, "", nil)
	h := nextConn(t, conns)
	if err := c.Conn.(*net.TCPConn).SetReadBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	if err := socketOf(h.conn).(*net.TCPConn).SetWriteBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	return c, h
}

func bigBatch() ([]Message, int) {
	msgs := make([]Message, 32)
	for i := range msgs {
		msgs[i] = Message{Payload: make([]byte, 64<<10), Binary: true}
	}
	return msgs, 32 * (64<<10 + 10) // 10-byte headers: 64 KiB needs a 64-bit length
}

// A client reading steadily at ~1.6 MB/s takes far longer than the write
// timeout to drain a 2 MiB batch, and is not cut: every progress renews the
// deadline.
func TestSteadyReaderIsNotCut(t *testing.T) {
	eachEngine(t, func(t *testing.T) {
		c, h := startSmallBuffers(t)
		msgs, wire := bigBatch()
		read := make(chan int, 1)
		go func() {
			buf := make([]byte, 16<<10)
			total := 0
			for total < wire {
				n, err := c.br.Read(buf)
				total += n
				if err != nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			read <- total
		}()
		start := time.Now()
		n, _, err := h.conn.WriteBatch(msgs)
		elapsed := time.Since(start)
		if err != nil {
			t.Fatalf("steady reader cut after %v with %d of %d messages written: %v", elapsed, n, len(msgs), err)
		}
		if got := <-read; got != wire {
			t.Fatalf("client read %d of %d bytes", got, wire)
		}
		if elapsed < 2*testWriteTimeout {
			t.Logf("the batch took only %v: the test did not exercise a long write", elapsed)
		}
		c.Close()
		h.waitClosed(t)
	})
}

// A client that reads nothing is cut after about the write timeout: at least
// 0.9 × it, at most twice it (one renewal for the bytes the kernel took).
func TestStalledReaderIsCut(t *testing.T) {
	eachEngine(t, func(t *testing.T) {
		c, h := startSmallBuffers(t)
		msgs, _ := bigBatch()
		start := time.Now()
		_, _, err := h.conn.WriteBatch(msgs)
		elapsed := time.Since(start)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("WriteBatch to a stalled reader = %v after %v, want a timeout", err, elapsed)
		}
		if elapsed < testWriteTimeout*9/10 || elapsed > 10*testWriteTimeout {
			t.Fatalf("cut after %v, want about %v", elapsed, testWriteTimeout)
		}
		t.Logf("stalled reader cut after %v (write timeout %v)", elapsed, testWriteTimeout)
		if err := h.conn.WriteMessage(false, []byte("x")); err == nil {
			t.Fatal("a write after a failed one succeeded: it would follow a partial frame")
		}
		c.Close()
		h.waitClosed(t)
	})
}

// A pong on a connection idle for longer than the write timeout still gets
// a fresh deadline (the one the last data write left has long passed).
func TestPongAfterIdle(t *testing.T) {
	eachEngine(t, func(t *testing.T) {
		addr, conns := startEngine(t, Config{WriteTimeout: 100 * time.Millisecond}, nil)
		c := dialRaw(t, addr, "", nil)
		h := nextConn(t, conns)
		if _, _, err := h.conn.WriteBatch([]Message{{Payload: []byte("hi")}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // idle past the deadline the write set
		c.send(t, clientFrame(true, 0x9, []byte("ping")))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			b0, p, err := c.readFrame()
			if err != nil {
				t.Fatalf("no pong: %v", err)
			}
			if b0&0x0f == 0xa {
				if string(p) != "ping" {
					t.Fatalf("pong %q", p)
				}
				break
			}
		}
		c.Close()
		h.waitClosed(t)
	})
}
