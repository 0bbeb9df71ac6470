package wsframe

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// magic is the GUID of RFC 6455 §1.3 appended to the key before hashing.
const magic = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// ErrHandshake reports an opening handshake that failed (wrong status, a bad
// Sec-WebSocket-Accept, or a request that is not a WebSocket upgrade).
var ErrHandshake = errors.New("wsframe: handshake failed")

// AcceptKey computes Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func AcceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(magic))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// DialOptions says where and how to open a client connection.
type DialOptions struct {
	Addr  string       // host:port of the server
	Path  string       // request target, query included ("/primus?rooms=a")
	Local *net.TCPAddr // source address to bind (nil: the kernel picks)
	// ReadBufferSize sizes the returned bufio.Reader (default 1024).
	ReadBufferSize int
}

// Dial opens a TCP connection and performs the client side of the opening
// handshake. The returned reader holds any bytes that followed the 101
// response and must be used for all further reads. The socket is set to close
// with RST (SO_LINGER 0) so back-to-back runs leave no TIME_WAIT behind.
func Dial(ctx context.Context, o DialOptions) (net.Conn, *bufio.Reader, error) {
	d := net.Dialer{LocalAddr: o.Local}
	c, err := d.DialContext(ctx, "tcp4", o.Addr)
	if err != nil {
		return nil, nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	br, err := clientHandshake(c, o)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, br, nil
}

func clientHandshake(c net.Conn, o DialOptions) (*bufio.Reader, error) {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	path := o.Path
	if path == "" {
		path = "/"
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + o.Addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := c.Write([]byte(req)); err != nil {
		return nil, err
	}
	size := o.ReadBufferSize
	if size <= 0 {
		size = 1024
	}
	br := bufio.NewReaderSize(c, size)
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return nil, err
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(line, "HTTP/1.1 101") {
		return nil, fmt.Errorf("%w: %s %s", ErrHandshake, o.Path, line)
	}
	if got := hdr.Get("Sec-WebSocket-Accept"); got != AcceptKey(key) {
		return nil, fmt.Errorf("%w: Sec-WebSocket-Accept %q", ErrHandshake, got)
	}
	if ext := hdr.Get("Sec-WebSocket-Extensions"); ext != "" {
		return nil, fmt.Errorf("%w: server chose extensions %q we did not offer", ErrHandshake, ext)
	}
	return br, nil
}

// Accept reads an upgrade request from c and answers 101. It returns the
// request target (path and query) and the reader to use for frames. A request
// that is not a WebSocket upgrade gets 400 and ErrHandshake.
func Accept(c net.Conn, br *bufio.Reader) (string, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return "", err
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	if req.Method != http.MethodGet || key == "" || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
		_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
		return "", fmt.Errorf("%w: not a WebSocket upgrade", ErrHandshake)
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		AcceptKey(key) + "\r\n\r\n"
	if _, err := c.Write([]byte(resp)); err != nil {
		return "", err
	}
	return req.RequestURI, nil
}
