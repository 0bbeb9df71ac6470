package hostile_test

// A raw WebSocket peer (RFC 6455) for hostile tests: it writes exactly the
// bytes a test asks for, including frames no real client would send, and
// reads the server's frames one by one so a test can see their order.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// WebSocket opcodes.
const (
	opCont   byte = 0x0
	opText   byte = 0x1
	opBinary byte = 0x2
	opClose  byte = 0x8
	opPing   byte = 0x9
	opPong   byte = 0xA
)

// maxReadFrame bounds what the test peer itself accepts from the server, so
// a broken server cannot make the test allocate without limit either.
const maxReadFrame = 64 << 20

// errHandshake is wrapped by dial when the server answered the upgrade with
// something other than 101.
var errHandshake = errors.New("handshake refused")

// handshakeError carries the refused upgrade's status and body.
type handshakeError struct {
	Status int
	Header http.Header
	Body   string
}

func (e *handshakeError) Error() string {
	return fmt.Sprintf("%v: %d %q", errHandshake, e.Status, e.Body)
}

func (e *handshakeError) Unwrap() error { return errHandshake }

// peer is one raw WebSocket client connection.
type peer struct {
	conn net.Conn
	br   *bufio.Reader
	// Header is the server's 101 response header.
	Header http.Header
}

// dialOpts tune the handshake.
type dialOpts struct {
	Query   string      // appended to the path after "?"
	Header  http.Header // extra request headers (Origin, extensions…)
	Key     string      // Sec-WebSocket-Key; empty means a fresh valid one
	Deflate bool        // offer permessage-deflate without context takeover
	// RcvBuf, if set, fixes the socket's receive buffer (turning off
	// autotuning) so back-pressure shows after a known number of bytes.
	RcvBuf int
}

// dial opens a WebSocket to addr (host:port) at path.
func dial(addr, path string, o dialOpts) (*peer, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if o.RcvBuf > 0 {
		_ = conn.(*net.TCPConn).SetReadBuffer(o.RcvBuf)
	}
	key := o.Key
	if key == "" {
		var k [16]byte
		_, _ = rand.Read(k[:])
		key = base64.StdEncoding.EncodeToString(k[:])
	}
	target := path
	if o.Query != "" {
		target += "?" + o.Query
	}
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", target, addr)
	fmt.Fprintf(&req, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key)
	if o.Deflate {
		req.WriteString("Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n")
	}
	for k, vs := range o.Header {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, req.String()); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		conn.Close()
		return nil, &handshakeError{Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	}
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(sum[:]); got != want {
		conn.Close()
		return nil, fmt.Errorf("Sec-WebSocket-Accept = %q, want %q", got, want)
	}
	_ = conn.SetDeadline(time.Time{})
	return &peer{conn: conn, br: br, Header: resp.Header}, nil
}

// mustDial is dial failing the test.
func mustDial(t testing.TB, addr string, o dialOpts) *peer {
	t.Helper()
	p, err := dial(addr, "/primus", o)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// Close closes the socket (no close frame).
func (p *peer) Close() error { return p.conn.Close() }

// appendFrame appends one masked client frame. rsv1 marks a compressed
// message (permessage-deflate).
func appendFrame(dst []byte, fin, rsv1 bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	if rsv1 {
		b0 |= 0x40
	}
	return appendHeader(dst, b0, uint64(len(payload)), func(d []byte) []byte { return append(d, payload...) })
}

// appendHeader appends the header for a masked frame of n bytes, then lets
// fill append the payload, which it masks in place.
func appendHeader(dst []byte, b0 byte, n uint64, fill func([]byte) []byte) []byte {
	dst = append(dst, b0)
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, n)
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	dst = append(dst, key[:]...)
	if fill == nil {
		return dst
	}
	start := len(dst)
	dst = fill(dst)
	mask(dst[start:], key)
	return dst
}

// mask XORs p with the masking key, eight bytes at a time.
func mask(p []byte, key [4]byte) {
	k32 := binary.LittleEndian.Uint32(key[:])
	k64 := uint64(k32) | uint64(k32)<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k64)
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i&3]
	}
}

// frame is one frame the server sent.
type frame struct {
	Fin     bool
	RSV1    bool
	Op      byte
	Payload []byte
}

// CloseCode is the status in a close frame (1005 when it has none).
func (f frame) CloseCode() int {
	if len(f.Payload) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(f.Payload))
}

func (f frame) String() string {
	if f.Op == opClose {
		return fmt.Sprintf("close(%d)", f.CloseCode())
	}
	s := string(f.Payload)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return fmt.Sprintf("op%d(%q)", f.Op, s)
}

// Write writes raw bytes (frames made by appendFrame, or garbage).
func (p *peer) Write(b []byte) error {
	_, err := p.conn.Write(b)
	return err
}

// WriteFrame writes one masked, final frame.
func (p *peer) WriteFrame(op byte, payload []byte) error {
	return p.Write(appendFrame(nil, true, false, op, payload))
}

// WriteText writes one text message.
func (p *peer) WriteText(s string) error { return p.WriteFrame(opText, []byte(s)) }

// WriteClose writes a close frame with code.
func (p *peer) WriteClose(code uint16) error {
	return p.WriteFrame(opClose, binary.BigEndian.AppendUint16(nil, code))
}

// ReadFrame reads the next frame, waiting at most d.
func (p *peer) ReadFrame(d time.Duration) (frame, error) {
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	var h [2]byte
	if _, err := io.ReadFull(p.br, h[:]); err != nil {
		return frame{}, err
	}
	f := frame{Fin: h[0]&0x80 != 0, RSV1: h[0]&0x40 != 0, Op: h[0] & 0x0F}
	if h[1]&0x80 != 0 {
		return f, errors.New("server frame is masked")
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(p.br, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(p.br, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > maxReadFrame {
		return f, fmt.Errorf("server frame of %d bytes", n)
	}
	f.Payload = make([]byte, n)
	if _, err := io.ReadFull(p.br, f.Payload); err != nil {
		return f, err
	}
	return f, nil
}

// ReadMessage reads the next data message, answering pings and skipping
// pongs. A close frame is returned as an error.
func (p *peer) ReadMessage(d time.Duration) (string, error) {
	deadline := time.Now().Add(d)
	var msg []byte
	for {
		f, err := p.ReadFrame(time.Until(deadline))
		if err != nil {
			return "", err
		}
		switch f.Op {
		case opPing:
			if err := p.WriteFrame(opPong, f.Payload); err != nil {
				return "", err
			}
			continue
		case opPong:
			continue
		case opClose:
			return "", &closedError{Code: f.CloseCode()}
		}
		msg = append(msg, f.Payload...)
		if f.Fin {
			return string(msg), nil
		}
	}
}

// closedError: the server sent a close frame where a message was expected.
type closedError struct{ Code int }

func (e *closedError) Error() string { return fmt.Sprintf("server closed with %d", e.Code) }

// drainUntilClose reads frames until the server's close frame or the end of
// the connection, and returns the close code (0 without a close frame).
func (p *peer) drainUntilClose(d time.Duration) (int, error) {
	deadline := time.Now().Add(d)
	for {
		f, err := p.ReadFrame(time.Until(deadline))
		if err != nil {
			return 0, err
		}
		if f.Op == opClose {
			return f.CloseCode(), nil
		}
	}
}

// deflater compresses messages for permessage-deflate: each a raw DEFLATE
// stream, sync-flushed, with the final 0x00 0x00 0xff 0xff removed (RFC 7692
// §7.2.1). Every message is compressed on its own (client_no_context_takeover).
type deflater struct {
	buf bytes.Buffer
	w   *flate.Writer
}

func newDeflater() *deflater {
	d := &deflater{}
	d.w, _ = flate.NewWriter(&d.buf, flate.BestSpeed)
	return d
}

// compress returns payload compressed; the result is valid until the next call.
func (d *deflater) compress(payload []byte) []byte {
	d.buf.Reset()
	d.w.Reset(&d.buf)
	_, _ = d.w.Write(payload)
	_ = d.w.Flush()
	return bytes.TrimSuffix(d.buf.Bytes(), []byte{0x00, 0x00, 0xff, 0xff})
}
