package websocket

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// ErrHandshake is returned by Upgrade for a request that is not a valid
// WebSocket opening handshake (RFC 6455 §4.2.1); the engine has answered it
// with a plain-text 4xx.
var ErrHandshake = errors.New("websocket: bad handshake")

// checkHandshake validates r before the connection is hijacked, so that a
// bad request gets an ordinary HTTP answer from us, in our words, rather
// than the engine's. It answers w and returns an error matching ErrHandshake
// when r is refused.
func checkHandshake(w http.ResponseWriter, r *http.Request) error {
	fail := func(status int, msg string) error {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(status)
		_, _ = fmt.Fprintln(w, msg)
		return fmt.Errorf("%w: %s", ErrHandshake, msg)
	}
	switch {
	case r.Method != http.MethodGet:
		w.Header().Set("Allow", http.MethodGet)
		return fail(http.StatusMethodNotAllowed, "a WebSocket upgrade must be a GET")
	case !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || !hasToken(r.Header, "Connection", "upgrade"):
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		return fail(http.StatusUpgradeRequired, "expected Upgrade: websocket and Connection: Upgrade")
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		w.Header().Set("Sec-WebSocket-Version", "13")
		return fail(http.StatusUpgradeRequired, "unsupported Sec-WebSocket-Version, expected 13")
	case !validKey(r.Header.Values("Sec-WebSocket-Key")):
		return fail(http.StatusBadRequest, "Sec-WebSocket-Key must be the base64 of 16 bytes")
	}
	return nil
}

// validKey reports whether keys is exactly one Sec-WebSocket-Key that
// decodes to 16 bytes (RFC 6455 §4.1, item 7).
func validKey(keys []string) bool {
	if len(keys) != 1 || len(keys[0]) != 24 {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(keys[0]))
	return err == nil && n == 16
}

// hasToken reports whether a comma-separated header lists token.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

// rawHijacker is a ResponseWriter that hands over its connection without
// bufio wrappers, with the bytes the client sent behind its request
// (directupgrade's): a connect then leaves none of them behind.
type rawHijacker interface {
	HijackRaw() (net.Conn, []byte, error)
}

// hijack takes the connection from w, with a private copy of the bytes
// the client sent behind its request (frames may follow the request at
// once; they sit in the HTTP server's buffer, which is dropped here).
func hijack(w http.ResponseWriter) (net.Conn, []byte, error) {
	if rh, ok := w.(rawHijacker); ok {
		return rh.HijackRaw()
	}
	sock, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, err
	}
	var pre []byte
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		pre = append([]byte(nil), b...)
	}
	return sock, pre, nil
}
