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
	// Deflate offers permessage-deflate (DeflateOffer) and requires the
	// server to accept it without context takeover on its side: Dial
	// fails otherwise, since a measurement of compression that silently
	// ran without it would be wrong. Messages are still sent uncompressed
	// (RFC 7692 lets either end leave any message uncompressed); read the
	// server's with a Reader that has Deflate set.
	Deflate bool
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
		"\r\nSec-WebSocket-Version: 13\r\n"
	if o.Deflate {
		req += "Sec-WebSocket-Extensions: " + DeflateOffer + "\r\n"
	}
	req += "\r\n"
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
	ext := strings.Join(hdr.Values("Sec-WebSocket-Extensions"), ", ")
	if err := checkExtensions(ext, o.Deflate); err != nil {
		return nil, err
	}
	return br, nil
}

// checkExtensions vets the server's Sec-WebSocket-Extensions answer: none
// unless we offered deflate, and then exactly permessage-deflate with
// server_no_context_takeover (anything else could not be inflated message
// by message).
func checkExtensions(ext string, deflate bool) error {
	if !deflate {
		if ext != "" {
			return fmt.Errorf("%w: server chose extensions %q we did not offer", ErrHandshake, ext)
		}
		return nil
	}
	if ext == "" {
		return fmt.Errorf("%w: server declined permessage-deflate", ErrHandshake)
	}
	params := strings.Split(ext, ";")
	if strings.Contains(ext, ",") || strings.TrimSpace(params[0]) != "permessage-deflate" {
		return fmt.Errorf("%w: server chose extensions %q", ErrHandshake, ext)
	}
	noTakeover := false
	for _, p := range params[1:] {
		name, _, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.TrimSpace(name) {
		case "server_no_context_takeover":
			noTakeover = true
		case "client_no_context_takeover", "client_max_window_bits", "server_max_window_bits":
			// We send uncompressed messages and inflate with a full
			// window, so these do not matter to us.
		default:
			return fmt.Errorf("%w: unknown permessage-deflate parameter in %q", ErrHandshake, ext)
		}
	}
	if !noTakeover {
		return fmt.Errorf("%w: server kept its context takeover (%q)", ErrHandshake, ext)
	}
	return nil
}

// Accept reads an upgrade request from c and answers 101. It returns the
// request target (path and query) and the reader to use for frames. A request
// that is not a WebSocket upgrade gets 400 and ErrHandshake.
func Accept(c net.Conn, br *bufio.Reader) (string, error) {
	return AcceptThen(c, br, nil)
}

// AcceptThen is Accept with admit called on the request target before the
// 101 goes out: a server that subscribes the connection there has done so
// by the time the client sees the handshake succeed, so a message published
// right after any client's connect reaches it.
func AcceptThen(c net.Conn, br *bufio.Reader, admit func(target string)) (string, error) {
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
	if admit != nil {
		admit(req.RequestURI)
	}
	if _, err := c.Write([]byte(resp)); err != nil {
		return "", err
	}
	return req.RequestURI, nil
}
