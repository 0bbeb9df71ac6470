package websocket

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// openGate wraps c in a gate past its handshake, as Upgrade leaves it.
func openGate(c net.Conn, writeTimeout time.Duration) *gate {
	g := newGate(c, &gateConfig{maxPayload: defaultMaxPayload, hold: holdThreshold, writeTimeout: int64(writeTimeout)})
	g.open()
	return g
}

// tcpPair returns both ends of a loopback TCP connection, so writes take the
// real writev path.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		done <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-done
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// readFrame parses one unmasked frame as a client would.
func readFrame(t *testing.T, r io.Reader) (fin bool, opcode byte, payload []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatal(err)
	}
	if h[1]&0x80 != 0 {
		t.Fatal("server frames must not be masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, _ = io.ReadFull(r, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, _ = io.ReadFull(r, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		t.Fatal(err)
	}
	return h[0]&0x80 != 0, h[0] & 0x0f, payload
}

func TestWriteFramed(t *testing.T) {
	client, server := tcpPair(t)
	var msgs []Message
	for i, size := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000} {
		msgs = append(msgs, Message{Payload: bytes.Repeat([]byte{byte('a' + i)}, size), Binary: i%2 == 1})
	}
	errc := make(chan error, 1)
	go func() {
		n, total, err := writeFramed(&openGate(server, time.Second).writer, msgs, 0)
		if err == nil && (n != len(msgs) || total != 0+1+125+126+127+65535+65536+70000) {
			err = io.ErrShortWrite
		}
		errc <- err
	}()
	for i, m := range msgs {
		fin, op, payload := readFrame(t, client)
		wantOp := byte(1)
		if m.Binary {
			wantOp = 2
		}
		if !fin || op != wantOp || !bytes.Equal(payload, m.Payload) {
			t.Fatalf("frame %d: fin=%v op=%d len=%d, want op %d len %d", i, fin, op, len(payload), wantOp, len(m.Payload))
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// A warm batched write allocates nothing: no per-receiver frame buffer.
func TestWriteFramedAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	client, conn := tcpPair(t)
	server := openGate(conn, time.Second)
	go func() { _, _ = io.Copy(io.Discard, client) }()
	msgs := []Message{{Payload: []byte(`{"hello":"world"}`)}, {Payload: []byte("bin"), Binary: true}}
	if _, _, err := writeFramed(&server.writer, msgs, 0); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		if _, _, err := writeFramed(&server.writer, msgs, 0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Fatalf("writeFramed allocates %.1f times per batch", allocs)
	}
}

func TestWriteFramedError(t *testing.T) {
	_, conn := tcpPair(t)
	server := openGate(conn, time.Second)
	conn.Close()
	if n, _, err := writeFramed(&server.writer, []Message{{Payload: []byte("x")}}, 0); err == nil || n != 0 {
		t.Fatalf("write to a closed conn: n=%d err=%v", n, err)
	}
}

// BenchmarkWriteFramed is a warm 16-message batch through the gate onto a
// loopback socket: the per-receiver cost of a fan-out write.
func BenchmarkWriteFramed(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	g := openGate(conn, 10*time.Second)
	msgs := make([]Message, 16)
	for i := range msgs {
		msgs[i] = Message{Payload: make([]byte, 64)}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := writeFramed(&g.writer, msgs, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// A prefixed batch puts the prefix inside every text frame (its length
// counts it) and leaves binary frames alone, still without allocating.
func TestWriteFramedPrefixed(t *testing.T) {
	client, conn := tcpPair(t)
	server := openGate(conn, time.Second)
	msgs := []Message{{Payload: []byte(`"hi"`)}, {Payload: []byte{1, 2}, Binary: true}, {Payload: bytes.Repeat([]byte("x"), 200)}}
	errc := make(chan error, 1)
	go func() {
		_, _, err := writeFramed(&server.writer, msgs, '4')
		errc <- err
	}()
	want := []struct {
		op      byte
		payload string
	}{{1, `4"hi"`}, {2, "\x01\x02"}, {1, "4" + strings.Repeat("x", 200)}}
	for i, w := range want {
		_, op, payload := readFrame(t, client)
		if op != w.op || string(payload) != w.payload {
			t.Fatalf("frame %d: op %d %q, want op %d %q", i, op, payload, w.op, w.payload)
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if raceEnabled {
		return
	}
	go func() { _, _ = io.Copy(io.Discard, client) }()
	if allocs := testing.AllocsPerRun(200, func() {
		if _, _, err := writeFramed(&server.writer, msgs, '4'); err != nil {
			t.Fatal(err)
		}
	}); allocs > 0 {
		t.Fatalf("prefixed writeFramed allocates %.1f times per batch", allocs)
	}
}

// countingConn counts the Write calls that reach it. It is no
// buffersWriter, so a vectored write reaches it as one Write per buffer.
type countingConn struct {
	net.Conn
	writes int
	out    bytes.Buffer
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.writes++
	return c.out.Write(b)
}
func (c *countingConn) SetWriteDeadline(time.Time) error { return nil }

// A small batch (up to flatMax on the wire) reaches the socket as one
// plain write, so the socket never gets the iovec array the runtime keeps
// after a writev; a larger one is still vectored, payloads uncopied.
func TestSmallBatchIsOneWrite(t *testing.T) {
	for _, tc := range []struct {
		name    string
		sizes   []int
		vectors bool
	}{
		{"ping", []int{20}, false},
		{"three small", []int{100, 200, 300}, false},
		{"at the bound", []int{flatMax - 2 - 4 - 2, 0}, false},
		{"past the bound", []int{flatMax}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &countingConn{}
			g := &writer{conn: c, cfg: &gateConfig{writeTimeout: int64(time.Second)}}
			g.open()
			var msgs []Message
			for i, n := range tc.sizes {
				msgs = append(msgs, Message{Payload: bytes.Repeat([]byte{byte('a' + i)}, n)})
			}
			if _, _, err := writeFramed(g, msgs, 0); err != nil {
				t.Fatal(err)
			}
			if vectored := c.writes > 1; vectored != tc.vectors {
				t.Fatalf("%d writes for %d messages, want vectored=%v", c.writes, len(msgs), tc.vectors)
			}
			for i, m := range msgs {
				_, _, payload := readFrame(t, &c.out)
				if !bytes.Equal(payload, m.Payload) {
					t.Fatalf("frame %d: %d bytes, want %d", i, len(payload), len(m.Payload))
				}
			}
		})
	}
}
