package client_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/lxzan/gws"
)

// rawServer is a scripted Primus peer built on raw gws: it serves
// /primus/spec with a chosen pingInterval and hands each upgraded connection
// to the test, which writes frames itself and reads what the client sends.
type rawServer struct {
	url    string
	conns  chan *gws.Conn
	msgs   chan string   // text frames from the client, verbatim
	closed chan struct{} // one value per connection that closed
	urls   chan *url.URL // the upgrade request's URL of each connection (the first 64)
}

func newRawServer(t *testing.T, pingInterval any) *rawServer {
	t.Helper()
	rs := &rawServer{
		conns:  make(chan *gws.Conn, 8),
		msgs:   make(chan string, 256),
		closed: make(chan struct{}, 8),
		urls:   make(chan *url.URL, 64),
	}
	var mu sync.Mutex
	var all []*gws.Conn
	up := gws.NewUpgrader(rawHandler{rs}, &gws.ServerOption{CheckUtf8Enabled: true})
	mux := http.NewServeMux()
	mux.HandleFunc("/primus/spec", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"pingInterval": pingInterval, "pathname": "/primus", "version": "test",
			"parser": "json", "transformer": "websockets",
		})
	})
	mux.HandleFunc("/primus", func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		select {
		case rs.urls <- r.URL:
		default:
		}
		mu.Lock()
		all = append(all, ws)
		mu.Unlock()
		rs.conns <- ws
		go ws.ReadLoop()
	})
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		mu.Lock()
		for _, ws := range all {
			_ = ws.NetConn().Close()
		}
		mu.Unlock()
		ts.Close()
	})
	rs.url = "ws" + strings.TrimPrefix(ts.URL, "http")
	return rs
}

type rawHandler struct{ rs *rawServer }

func (rawHandler) OnOpen(*gws.Conn)             {}
func (h rawHandler) OnClose(*gws.Conn, error)   { h.rs.closed <- struct{}{} }
func (rawHandler) OnPing(c *gws.Conn, p []byte) { _ = c.WritePong(p) }
func (rawHandler) OnPong(*gws.Conn, []byte)     {}
func (h rawHandler) OnMessage(_ *gws.Conn, m *gws.Message) {
	h.rs.msgs <- m.Data.String()
	_ = m.Close()
}
