package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// specState is what the client learned from <pathname>/spec.
type specState struct {
	known       bool
	pingTimeout time.Duration // 1.5 × the server's pingInterval; 0 when it does not ping
}

// specTimeout bounds the spec request on its own; the attempt's context
// bounds it too.
const specTimeout = 5 * time.Second

// specLimit bounds the spec document read.
const specLimit = 64 << 10

// resolvePingTimeout returns the watchdog for the next connection: the
// option, or, when it is zero, 1.5 × the pingInterval from the server's spec
// (fetched once; a failed fetch means no watchdog for this connection and a
// new try next time). The error is ErrParserMismatch, reported once.
func (c *Client) resolvePingTimeout(ctx context.Context) (time.Duration, error) {
	switch {
	case c.opts.PingTimeout < 0:
		return 0, nil
	case c.opts.PingTimeout > 0:
		return c.opts.PingTimeout, nil
	}
	c.mu.Lock()
	s := c.spec
	c.mu.Unlock()
	if s.known {
		return s.pingTimeout, nil
	}
	interval, parserName, err := c.fetchSpec(ctx)
	if err != nil {
		return 0, nil
	}
	// Primus's server compiles pingInterval + round(pingInterval/2) into its
	// client library as the default pingTimeout.
	pt := interval + (interval / 2).Round(time.Millisecond)
	c.mu.Lock()
	c.spec = specState{known: true, pingTimeout: pt}
	c.mu.Unlock()
	if parserName != "" && parserName != c.opts.Parser.Name() {
		return pt, fmt.Errorf("%w: server %q, client %q", ErrParserMismatch, parserName, c.opts.Parser.Name())
	}
	return pt, nil
}

// fetchSpec GETs <pathname>/spec with the client's headers. pingInterval is
// milliseconds, or false when the server does not ping (interval 0).
func (c *Client) fetchSpec(ctx context.Context) (interval time.Duration, parserName string, err error) {
	ctx, cancel := context.WithTimeout(ctx, specTimeout)
	defer cancel()
	tr := &http.Transport{
		DisableKeepAlives: true, // no idle connection (or goroutine) outlives the request
		TLSClientConfig:   c.tlsConfig(),
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return c.netDial(ctx, addr)
		},
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.target.httpURL("/spec"), nil)
	if err != nil {
		return 0, "", err
	}
	req.Header = c.target.header.Clone()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, "", fmt.Errorf("client: spec: status %d", resp.StatusCode)
	}
	var doc struct {
		PingInterval any    `json:"pingInterval"`
		Parser       string `json:"parser"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, specLimit)).Decode(&doc); err != nil {
		return 0, "", fmt.Errorf("client: spec: %w", err)
	}
	if ms, ok := doc.PingInterval.(float64); ok && ms > 0 {
		interval = time.Duration(ms * float64(time.Millisecond))
	}
	return interval, doc.Parser, nil
}
