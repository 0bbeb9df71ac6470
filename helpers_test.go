package allspark_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/lxzan/gws"
)

const waitLong = 5 * time.Second

// startServer runs srv (configured by setup) on a loopback listener and
// shuts it down at the end of the test.
func startServer(t testing.TB, opts allspark.Options, setup func(*allspark.Server)) (*allspark.Server, string) {
	t.Helper()
	srv, err := allspark.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(srv)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLong)
		defer cancel()
		_ = srv.Shutdown(ctx, allspark.ShutdownOptions{Timeout: time.Second})
		hs.Close()
	})
	return srv, hs.URL
}

func echo(srv *allspark.Server) {
	srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
		s.OnData(func(data any) { _ = s.Write(data) })
		return nil
	})
}

// frameMsg is one frame a test client received.
type frameMsg struct {
	text   string
	binary bool
}

// wsClient is a raw WebSocket test peer built on gws's client: it sees the
// wire exactly, including control strings.
type wsClient struct {
	t        testing.TB
	conn     *gws.Conn
	resp     *http.Response
	msgs     chan frameMsg
	closed   chan error
	pongs    chan string // WebSocket pong frames received
	autoPong atomic.Bool
}

type clientEvents struct{ c *wsClient }

func (e clientEvents) OnOpen(*gws.Conn) {}
func (e clientEvents) OnClose(_ *gws.Conn, err error) {
	e.c.closed <- err
}
func (e clientEvents) OnPing(c *gws.Conn, p []byte) { _ = c.WritePong(p) }
func (e clientEvents) OnPong(_ *gws.Conn, p []byte) {
	select {
	case e.c.pongs <- string(p):
	default:
	}
}
func (e clientEvents) OnMessage(c *gws.Conn, m *gws.Message) {
	text := m.Data.String()
	e.c.msgs <- frameMsg{text: text, binary: m.Opcode == gws.OpcodeBinary}
	m.Close()
	if e.c.autoPong.Load() && strings.HasPrefix(text, `"primus::ping::`) {
		_ = c.WriteString(`"primus::pong::` + strings.TrimPrefix(text, `"primus::ping::`))
	}
}

func wsURL(httpURL, path string) string {
	return "ws" + strings.TrimPrefix(httpURL, "http") + path
}

// dial connects a raw client to base+path; it fails the test on error.
func dial(t testing.TB, base, path string, header http.Header) *wsClient {
	t.Helper()
	c, err := tryDial(t, base, path, header)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	return c
}

func tryDial(t testing.TB, base, path string, header http.Header) (*wsClient, error) {
	return tryDialWith(t, base, path, header, false)
}

// tryDialDeflate dials /primus offering permessage-deflate.
func tryDialDeflate(t testing.TB, base string) (*wsClient, error) {
	return tryDialWith(t, base, "/primus", nil, true)
}

func tryDialWith(t testing.TB, base, path string, header http.Header, deflate bool) (*wsClient, error) {
	c := &wsClient{t: t, msgs: make(chan frameMsg, 4096), closed: make(chan error, 1), pongs: make(chan string, 16)}
	c.autoPong.Store(true)
	conn, resp, err := gws.NewClient(clientEvents{c}, &gws.ClientOption{
		Addr:               wsURL(base, path),
		RequestHeader:      header,
		CheckUtf8Enabled:   true,
		ReadMaxPayloadSize: 64 << 20,
		PermessageDeflate:  gws.PermessageDeflate{Enabled: deflate},
	})
	c.resp = resp
	if err != nil {
		return c, err
	}
	c.conn = conn
	go conn.ReadLoop()
	t.Cleanup(func() { _ = conn.NetConn().Close() })
	return c, nil
}

func (c *wsClient) sendText(s string) {
	c.t.Helper()
	if err := c.conn.WriteString(s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next data frame, skipping pings.
func (c *wsClient) next() frameMsg {
	c.t.Helper()
	for {
		select {
		case m := <-c.msgs:
			if strings.HasPrefix(m.text, `"primus::ping::`) {
				continue
			}
			return m
		case err := <-c.closed:
			c.closed <- err
			c.t.Fatalf("connection closed while waiting for a message: %v", err)
		case <-time.After(waitLong):
			c.t.Fatal("timed out waiting for a message")
		}
	}
}

func (c *wsClient) expect(want string) {
	c.t.Helper()
	if got := c.next().text; got != want {
		c.t.Fatalf("got %s, want %s", got, want)
	}
}

// survivePings waits for n server pings and fails if the connection closes
// first.
func (c *wsClient) survivePings(n int) {
	c.t.Helper()
	for pings := 0; pings < n; {
		select {
		case m := <-c.msgs:
			if strings.HasPrefix(m.text, `"primus::ping::`) {
				pings++
			}
		case err := <-c.closed:
			c.t.Fatalf("closed after %d pings: %v", pings, err)
		case <-time.After(waitLong):
			c.t.Fatal("no pings")
		}
	}
}

// waitClose waits for the connection to close and returns every message
// that arrived before, including pings.
func (c *wsClient) waitClose() (msgs []string, err error) {
	c.t.Helper()
	deadline := time.After(waitLong)
	for {
		select {
		case m := <-c.msgs:
			msgs = append(msgs, m.text)
		case err := <-c.closed:
			for {
				select {
				case m := <-c.msgs:
					msgs = append(msgs, m.text)
				default:
					return msgs, err
				}
			}
		case <-deadline:
			c.t.Fatal("timed out waiting for close")
		}
	}
}

// closeCode extracts a WebSocket close status from a gws close error.
func closeCode(err error) uint16 {
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// rawUpgrade performs a WebSocket handshake by hand and returns the socket
// without reading anything more from it: a peer that never reads.
func rawUpgrade(t testing.TB, base, path string) net.Conn {
	t.Helper()
	return rawUpgradeWith(t, base, path, "")
}

// rawUpgradeWith is rawUpgrade with extra header lines (each ending "\r\n").
func rawUpgradeWith(t testing.TB, base, path, extra string) net.Conn {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	key := make([]byte, 16)
	_, _ = rand.Read(key)
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
		path, addr, base64.StdEncoding.EncodeToString(key), extra)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake status %d", resp.StatusCode)
	}
	return conn
}
