package client

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lxzan/gws"
)

// target is the parsed URL: where to connect and what to send.
type target struct {
	secure   bool
	addr     string // host:port to dial
	host     string // URL host, for the Host header and TLS ServerName
	pathname string
	query    url.Values
	header   http.Header
}

// parseTarget validates rawURL and folds in the options (pathname, query,
// headers, userinfo).
func parseTarget(rawURL string, o resolved) (target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return target{}, fmt.Errorf("client: invalid URL: %w", err)
	}
	var t target
	switch strings.ToLower(u.Scheme) {
	case "ws", "http":
	case "wss", "https":
		t.secure = true
	default:
		return target{}, fmt.Errorf("client: invalid URL %q: scheme must be ws, wss, http or https", rawURL)
	}
	if u.Hostname() == "" {
		return target{}, fmt.Errorf("client: invalid URL %q: no host", rawURL)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if t.secure {
			port = "443"
		}
	}
	t.addr = net.JoinHostPort(u.Hostname(), port)
	t.host = u.Host

	t.pathname = o.Pathname
	if t.pathname == "" && u.Path != "" && u.Path != "/" {
		t.pathname = u.Path
	}
	t.pathname = cleanPathname(t.pathname)

	t.query = u.Query()
	for k, vs := range o.Query {
		t.query[k] = append(t.query[k], vs...)
	}

	t.header = o.Header.Clone()
	if t.header == nil {
		t.header = http.Header{}
	}
	if u.User != nil && t.header.Get("Authorization") == "" {
		pass, _ := u.User.Password()
		cred := base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + pass))
		t.header.Set("Authorization", "Basic "+cred)
	}
	return t, nil
}

func cleanPathname(p string) string {
	if p == "" {
		return DefaultPathname
	}
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	for len(p) > 1 && strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	return p
}

// wsURL is the upgrade URL with the user's query, the recovery query
// (recover.go; it replaces the user's values of those keys) and Primus's
// cache buster, _primuscb, made of the time and seq.
func (t target) wsURL(seq uint64, recovery url.Values) string {
	q := make(url.Values, len(t.query)+len(recovery)+1)
	for k, vs := range t.query {
		q[k] = vs
	}
	for k, vs := range recovery {
		q[k] = vs
	}
	q.Set("_primuscb", strconv.FormatInt(time.Now().UnixMilli(), 36)+"-"+strconv.FormatUint(seq, 36))
	scheme := "ws"
	if t.secure {
		scheme = "wss"
	}
	u := url.URL{Scheme: scheme, Host: t.host, Path: t.pathname, RawQuery: q.Encode()}
	return u.String()
}

// httpURL is a plain HTTP URL below the pathname, such as <pathname>/spec.
func (t target) httpURL(suffix string) string {
	scheme := "http"
	if t.secure {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: t.host, Path: strings.TrimSuffix(t.pathname, "/") + suffix}
	return u.String()
}

func (c *Client) tlsConfig() *tls.Config {
	cfg := c.opts.TLSConfig.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.ServerName == "" {
		h, _, err := net.SplitHostPort(c.target.addr)
		if err == nil {
			cfg.ServerName = h
		}
	}
	return cfg
}

func (c *Client) netDial(ctx context.Context, addr string) (net.Conn, error) {
	if c.opts.NetDial != nil {
		return c.opts.NetDial(ctx, "tcp", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// handshakeTimeout is what gws gets; the real bound is ctx (Options.Timeout
// or ReconnectOptions.Timeout), which cuts the socket when it ends.
const handshakeTimeout = 24 * time.Hour

// errorBodyLimit bounds how much of a refused upgrade's body is read.
const errorBodyLimit = 64 << 10

// dial opens the TCP (and TLS) connection and performs the WebSocket
// handshake. ctx cancels every step. On success the returned net.Conn is the
// socket under the *gws.Conn; on failure nothing is left open.
func (c *Client) dial(ctx context.Context, h gws.Event, query url.Values) (*gws.Conn, net.Conn, error) {
	raw, err := c.netDial(ctx, c.target.addr)
	if err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	conn := raw
	if c.target.secure {
		tc := tls.Client(raw, c.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			stop()
			_ = raw.Close()
			return nil, nil, err
		}
		conn = tc
	}
	// gws closes the connection when the handshake fails; hold that close
	// until a refused upgrade's body has been read.
	hc := &holdConn{Conn: conn}
	hc.hold.Store(true)
	opt := &gws.ClientOption{
		Addr:                c.target.wsURL(c.attempts.Add(1), query),
		RequestHeader:       c.target.header.Clone(),
		HandshakeTimeout:    handshakeTimeout,
		ReadMaxPayloadSize:  c.opts.MaxLength,
		WriteMaxPayloadSize: maxWritePayload,
		CheckUtf8Enabled:    true,
		PermessageDeflate:   gws.PermessageDeflate{Enabled: c.opts.Compression},
		Logger:              quietLogger{},
	}
	ws, resp, err := gws.NewClientFromConn(h, opt, hc)
	if err != nil {
		err = handshakeError(resp, conn, err)
		stop()
		_ = conn.Close()
		return nil, nil, err
	}
	if !stop() {
		_ = conn.Close()
		return nil, nil, ctx.Err()
	}
	hc.hold.Store(false)
	return ws, conn, nil
}

// maxWritePayload leaves the size limit to the server (Primus's client has
// none); gws would otherwise refuse frames over 16 MiB.
const maxWritePayload = 1 << 30

// handshakeError turns a refused upgrade into *AuthError or *StatusError.
func handshakeError(resp *http.Response, conn net.Conn, err error) error {
	if resp == nil || resp.StatusCode == http.StatusSwitchingProtocols {
		return err
	}
	msg := http.StatusText(resp.StatusCode)
	if resp.Body != nil {
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		body, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
		_ = resp.Body.Close()
		var doc struct {
			Error *string `json:"error"`
		}
		switch {
		case json.Unmarshal(body, &doc) == nil && doc.Error != nil:
			msg = *doc.Error
		case len(strings.TrimSpace(string(body))) > 0:
			msg = strings.TrimSpace(string(body))
		}
	}
	if isAuthStatus(resp.StatusCode) {
		return &AuthError{Status: resp.StatusCode, Message: msg, Authenticate: resp.Header.Get("WWW-Authenticate")}
	}
	return &StatusError{Status: resp.StatusCode, Message: msg}
}

// holdConn ignores Close while hold is set.
type holdConn struct {
	net.Conn
	hold atomic.Bool
}

func (h *holdConn) Close() error {
	if h.hold.Load() {
		return nil
	}
	return h.Conn.Close()
}

type quietLogger struct{}

func (quietLogger) Error(...any) {}
