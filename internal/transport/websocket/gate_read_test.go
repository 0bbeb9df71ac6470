package websocket

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// chunkConn is a net.Conn whose reads return the given chunks one by one and
// whose writes are recorded. onRead runs before every read, with the number of
// bytes handed out so far.
type chunkConn struct {
	net.Conn // unused methods
	chunks   [][]byte
	arrived  int
	onRead   func(arrived int)
	wrote    bytes.Buffer
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if c.onRead != nil {
		c.onRead(c.arrived)
	}
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	if len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	c.arrived += n
	return n, nil
}

func (c *chunkConn) Write(p []byte) (int, error)      { return c.wrote.Write(p) }
func (c *chunkConn) SetWriteDeadline(time.Time) error { return nil }
func (c *chunkConn) Close() error                     { return nil }

// peerCloseCounter is a Handler that counts OnPeerClose calls and runs at.
type peerCloseCounter struct {
	n  int
	at func()
}

func (h *peerCloseCounter) OnMessage(bool, []byte) {}
func (h *peerCloseCounter) OnPing()                {}
func (h *peerCloseCounter) OnClose(error)          {}
func (h *peerCloseCounter) OnPeerClose() {
	h.n++
	if h.at != nil {
		h.at()
	}
}

// header returns a masked client frame header declaring n payload bytes.
func header(fin bool, op byte, n uint64) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	h := []byte{b0}
	switch {
	case n < 126:
		h = append(h, 0x80|byte(n))
	case n <= 0xffff:
		h = append(h, 0x80|126)
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	default:
		h = append(h, 0x80|127)
		h = binary.BigEndian.AppendUint64(h, n)
	}
	return append(h, 1, 2, 3, 4)
}

// clientFrame returns a masked client frame carrying payload.
func clientFrame(fin bool, op byte, payload []byte) []byte {
	f := header(fin, op, uint64(len(payload)))
	key := f[len(f)-4:]
	for i, c := range payload {
		f = append(f, c^key[i%4])
	}
	return f
}

func testGate(conn net.Conn, maxPayload, hold uint64) *gate {
	g := newGate(conn, &gateConfig{maxPayload: maxPayload, hold: hold, writeTimeout: int64(time.Second)})
	g.open()
	return g
}

// checkHeld fails when the gate holds more than what arrived, or a buffer
// that has outgrown what it holds.
func checkHeld(t testing.TB, g *gate, arrived int) {
	t.Helper()
	if len(g.buf) > arrived {
		t.Fatalf("holds %d bytes, only %d arrived", len(g.buf), arrived)
	}
	if c := cap(g.buf); c > max(2*len(g.buf), len(g.buf)+holdStep) {
		t.Fatalf("hold buffer cap %d for %d held bytes", c, len(g.buf))
	}
}

// A large frame reaches the reader only once all of it has arrived, its
// buffer grows with the bytes that came, and is gone once it was read.
func TestGateHoldsLargeFrameUntilComplete(t *testing.T) {
	const size = 1 << 20
	frame := clientFrame(true, 0x2, bytes.Repeat([]byte{7}, size))
	conn := &chunkConn{}
	for rest := frame; len(rest) > 0; {
		n := min(1000, len(rest))
		conn.chunks, rest = append(conn.chunks, rest[:n]), rest[n:]
	}
	g := testGate(conn, defaultMaxPayload, holdThreshold)
	conn.onRead = func(arrived int) { checkHeld(t, g, arrived) }

	p := make([]byte, 1024) // what gws's bufio.Reader asks for
	n, err := g.Read(p)
	if err != nil || n == 0 {
		t.Fatalf("Read = %d, %v", n, err)
	}
	if conn.arrived != len(frame) {
		t.Fatalf("the first bytes were released after %d of %d bytes arrived", conn.arrived, len(frame))
	}
	out := append([]byte(nil), p[:n]...)
	for len(out) < len(frame) {
		n, err := g.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p[:n]...)
	}
	if !bytes.Equal(out, frame) {
		t.Fatal("the frame was altered")
	}
	if g.buf != nil {
		t.Fatalf("an idle gate still holds %d bytes (cap %d)", len(g.buf), cap(g.buf))
	}
}

// Small frames, and frames over the limit (gws closes 1009 on the header),
// pass straight through: nothing is held.
func TestGatePassesSmallAndOverLimitFrames(t *testing.T) {
	for name, stream := range map[string][]byte{
		"small":      append(clientFrame(true, 0x1, []byte("hi")), clientFrame(true, 0x2, make([]byte, holdThreshold))...),
		"over limit": append(header(true, 0x2, defaultMaxPayload+1), 1, 2, 3),
		"control":    header(true, 0x9, 125),
		"unmasked":   {0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			conn := &chunkConn{chunks: [][]byte{stream}}
			g := testGate(conn, defaultMaxPayload, holdThreshold)
			p := make([]byte, 64<<10)
			n, err := g.Read(p)
			if err != nil || !bytes.Equal(p[:n], stream) {
				t.Fatalf("Read = %d, %v: want the %d bytes at once", n, err, len(stream))
			}
			if g.buf != nil {
				t.Fatalf("holds %d bytes", len(g.buf))
			}
		})
	}
}

// A 64-bit length with the top bit set (RFC 6455 §5.2 forbids it) is refused
// with 1002 before gws sees it: gws would make a negative-length slice and
// panic, taking the whole process down.
func TestGateRefusesNegativeLength(t *testing.T) {
	small := clientFrame(true, 0x1, []byte("ok"))
	bad := []byte{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
	conn := &chunkConn{chunks: [][]byte{append(append([]byte(nil), small...), bad...)}}
	g := testGate(conn, defaultMaxPayload, holdThreshold)
	p := make([]byte, 1024)
	n, err := g.Read(p)
	if err != nil || !bytes.Equal(p[:n], small) {
		t.Fatalf("Read = %q, %v: want the valid frame before the bad one", p[:n], err)
	}
	if _, err := g.Read(p); !errors.Is(err, ErrProtocol) {
		t.Fatalf("Read err = %v, want ErrProtocol", err)
	}
	w := conn.wrote.Bytes()
	if len(w) < 4 || w[0] != 0x88 || binary.BigEndian.Uint16(w[2:4]) != 1002 {
		t.Fatalf("wrote % x, want a Close frame with 1002", w)
	}
	if _, err := g.Write([]byte{0x81, 1, 'x'}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("a write after the Close frame: %v, want net.ErrClosed", err)
	}
}

// The peer's Close frame reaches the reader only after every byte before it
// was read and OnPeerClose returned.
func TestGatePeerCloseBarrier(t *testing.T) {
	data := clientFrame(true, 0x1, []byte("first"))
	closeFrame := clientFrame(true, 0x8, []byte{0x03, 0xe8})
	conn := &chunkConn{chunks: [][]byte{append(append([]byte(nil), data...), closeFrame...)}}
	g := testGate(conn, defaultMaxPayload, holdThreshold)
	var out []byte
	h := &peerCloseCounter{}
	h.at = func() {
		if !bytes.Equal(out, data) {
			t.Errorf("OnPeerClose after %d bytes were read, want exactly the %d before the Close frame", len(out), len(data))
		}
	}
	g.h = h
	p := make([]byte, 1024)
	for {
		n, err := g.Read(p)
		out = append(out, p[:n]...)
		if err != nil {
			break
		}
	}
	if h.n != 1 || !bytes.Equal(out, append(data, closeFrame...)) {
		t.Fatalf("OnPeerClose called %d times; read % x", h.n, out)
	}
}

// refFrames walks stream as complete frames with the gate's rules and
// returns what the gate must deliver: at least min bytes, fewer than max
// (max = len+1 when everything must pass), and where a Close barrier
// starts (-1 if none).
func refFrames(stream []byte, maxPayload, hold uint64) (lo, hi, barrier, barrierEnd int) {
	pos := 0
	for pos < len(stream) {
		rest := stream[pos:]
		if len(rest) < 2 {
			break
		}
		hlen, plen := 2, uint64(rest[1]&0x7f)
		switch plen {
		case 126:
			hlen += 2
		case 127:
			hlen += 8
		}
		if rest[1]&0x80 != 0 {
			hlen += 4
		}
		if len(rest) < hlen {
			break
		}
		switch plen {
		case 126:
			plen = uint64(binary.BigEndian.Uint16(rest[2:4]))
		case 127:
			plen = binary.BigEndian.Uint64(rest[2:10])
		}
		op := rest[0] & 0x0f
		masked := rest[1]&0x80 != 0
		switch {
		case plen > maxLength:
			return pos, pos + hlen, -1, 0
		case op == 0x8 && rest[0]&0x80 != 0 && rest[1]&0x7f <= 125:
			return len(stream), len(stream) + 1, pos, pos + hlen
		case op <= 0x2 && masked && plen > hold && plen <= maxPayload && uint64(len(rest)-hlen) < plen:
			return pos, pos + hlen, -1, 0
		}
		if uint64(len(rest)-hlen) <= plen {
			break
		}
		pos += hlen + int(plen)
	}
	return len(stream), len(stream) + 1, -1, 0
}

// FuzzGateScanner feeds arbitrary byte streams, split at arbitrary points
// and read with arbitrary buffer sizes, through the gate's read side. The
// reader must get a byte-identical prefix of the stream — all of it unless
// it ends inside a held frame or at a refused one, never the whole header of
// those — OnPeerClose must come exactly when the reader reaches a Close
// frame, the gate must never panic, and it must never hold more than what
// arrived.
func FuzzGateScanner(f *testing.F) {
	f.Add(clientFrame(true, 0x1, []byte("hello")), []byte{3, 1, 200}, []byte{7, 1})
	f.Add(append(clientFrame(true, 0x2, bytes.Repeat([]byte{1}, 40)), clientFrame(true, 0x1, []byte("x"))...), []byte{5}, []byte{2, 9})
	f.Add(append(clientFrame(false, 0x1, bytes.Repeat([]byte{2}, 20)), clientFrame(true, 0x0, bytes.Repeat([]byte{3}, 30))...), []byte{1}, []byte{1})
	f.Add(append(clientFrame(true, 0x9, []byte("p")), clientFrame(true, 0x8, []byte{3, 0xe8})...), []byte{2, 40}, []byte{3})
	f.Add(append(header(true, 0x2, 100), 1, 2, 3), []byte{4}, []byte{16})
	f.Add(append(header(true, 0x2, 1000), 1, 2, 3), []byte{2}, []byte{100})
	f.Add([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, []byte{1}, []byte{5})
	f.Fuzz(func(t *testing.T, stream, splits, reads []byte) {
		const maxPayload, hold = 64, 16
		conn := &chunkConn{}
		for i, rest := 0, stream; len(rest) > 0; i++ {
			n := len(rest)
			if len(splits) > 0 {
				n = min(1+int(splits[i%len(splits)]), len(rest))
			}
			conn.chunks, rest = append(conn.chunks, rest[:n:n]), rest[n:]
		}
		g := testGate(conn, maxPayload, hold)
		conn.onRead = func(arrived int) { checkHeld(t, g, arrived) }
		lo, hi, barrier, barrierEnd := refFrames(stream, maxPayload, hold)
		var out []byte
		h := &peerCloseCounter{}
		h.at = func() {
			if barrier < 0 || len(out) < barrier || len(out) >= barrierEnd {
				t.Fatalf("OnPeerClose after %d bytes; Close frame header at [%d,%d)", len(out), barrier, barrierEnd)
			}
		}
		g.h = h
		for i := 0; i < 10*len(stream)+10; i++ {
			size := 8
			if len(reads) > 0 {
				size = 1 + int(reads[i%len(reads)])
			}
			p := make([]byte, size)
			n, err := g.Read(p)
			out = append(out, p[:n]...)
			checkHeld(t, g, conn.arrived)
			if err != nil {
				break
			}
		}
		if !bytes.HasPrefix(stream, out) {
			t.Fatalf("delivered bytes differ from the stream")
		}
		if len(out) < lo || len(out) >= hi {
			t.Fatalf("delivered %d of %d bytes, want [%d,%d)", len(out), len(stream), lo, hi)
		}
		if want := barrier >= 0; (h.n == 1) != want || h.n > 1 {
			t.Fatalf("OnPeerClose called %d times, Close frame at %d", h.n, barrier)
		}
	})
}

// replayConn serves the same stream forever, in reads of at most 64 KiB.
type replayConn struct {
	chunkConn
	stream []byte
	off    int
}

func (c *replayConn) Read(p []byte) (int, error) {
	n := copy(p[:min(len(p), 64<<10)], c.stream[c.off:])
	c.off = (c.off + n) % len(c.stream)
	return n, nil
}

// BenchmarkGateRead is the read side's cost on a stream of small frames (the
// common case: scanned, never copied) and of large ones (held as they
// arrive, then copied once), read as gws reads: the header through a 1 KiB
// bufio.Reader, then the payload into a buffer of its declared length.
func BenchmarkGateRead(b *testing.B) {
	for _, size := range []int{64, 64 << 10} {
		b.Run(fmt.Sprintf("frame=%d", size), func(b *testing.B) {
			frame := clientFrame(true, 0x2, make([]byte, size))
			hlen := len(frame) - size
			var stream []byte
			for len(stream) < 1<<20 {
				stream = append(stream, frame...)
			}
			g := testGate(&replayConn{stream: stream}, defaultMaxPayload, holdThreshold)
			br := bufio.NewReaderSize(g, 1024)
			hdr, payload := make([]byte, hlen), make([]byte, size)
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			for b.Loop() {
				for range len(stream) / len(frame) {
					if _, err := io.ReadFull(br, hdr); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(br, payload); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
