package websocket

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// On a client's Close, every message before it is delivered, then
// OnPeerClose runs and what it writes reaches the client before the Close
// reply.
func TestPeerCloseFlushesBeforeReply(t *testing.T) {
	eachEngine(t, func(t *testing.T) {
		addr, conns := startEngine(t, Config{}, func(h *recorder) {
			h.onPeerClose = func(c Conn) {
				var msgs []Message
				for i := range 50 {
					msgs = append(msgs, Message{Payload: fmt.Appendf(nil, "queued %d", i)})
				}
				if _, _, err := c.WriteBatch(msgs); err != nil {
					t.Errorf("WriteBatch in OnPeerClose: %v", err)
				}
			}
		})
		c := dialRaw(t, addr, "", nil)
		h := nextConn(t, conns)
		c.send(t, slices.Concat(
			clientFrame(true, 0x1, []byte("one")),
			clientFrame(true, 0x1, []byte("two")),
			clientFrame(true, 0x8, closePayload(1000, "bye"))))
		data, code, _ := c.readUntilClose(t)
		if len(data) != 50 || data[0] != "queued 0" || data[49] != "queued 49" {
			t.Fatalf("client read %d data frames before the Close reply, want the 50 written in OnPeerClose", len(data))
		}
		if code != 1000 {
			t.Fatalf("close reply code %d, want 1000", code)
		}
		h.waitClosed(t)
		if got, want := h.eventLog(), []string{"msg:one", "msg:two", "peerclose"}; !slices.Equal(got, want) {
			t.Fatalf("events %q, want %q", got, want)
		}
	})
}

// Once a Close frame is out, ours or gws's, no data frame follows it.
func TestNoDataAfterCloseFrame(t *testing.T) {
	eachEngine(t, func(t *testing.T) {
		batch := []Message{{Payload: []byte("late")}}
		t.Run("ours", func(t *testing.T) {
			addr, conns := startEngine(t, Config{}, nil)
			c := dialRaw(t, addr, "", nil)
			h := nextConn(t, conns)
			if err := h.conn.Close(1000, ""); err != nil {
				t.Fatal(err)
			}
			if n, _, err := h.conn.WriteBatch(batch); err == nil || n != 0 {
				t.Fatalf("WriteBatch after Close = %d, %v; want an error", n, err)
			}
			if data, code, _ := c.readUntilClose(t); len(data) != 0 || code != 1000 {
				t.Fatalf("client read %q then close %d", data, code)
			}
			h.waitClosed(t)
		})
		t.Run("engine's", func(t *testing.T) {
			addr, conns := startEngine(t, Config{}, nil)
			c := dialRaw(t, addr, "", nil)
			h := nextConn(t, conns)
			c.send(t, clientFrame(true, 0x1, []byte{0xff})) // invalid UTF-8: gws fails the connection
			h.waitClosed(t)                                 // after gws wrote its Close frame
			if n, _, err := h.conn.WriteBatch(batch); err == nil || n != 0 {
				t.Fatalf("WriteBatch after the engine's Close = %d, %v; want an error", n, err)
			}
			if err := h.conn.WriteMessage(false, []byte("late")); err == nil {
				t.Fatal("WriteMessage after the engine's Close succeeded")
			}
			data, code, reason := c.readUntilClose(t)
			if len(data) != 0 || code != 1007 {
				t.Fatalf("client read %q then close %d", data, code)
			}
			expectEngineless(t, "close reason", reason)
		})
	})
}

// Only our own limit is ErrTooLarge: a peer closing with 1009 is a plain
// peer close.
func TestTooLargeIsOnlyOurLimit(t *testing.T) {
	eachEngine(t, func(t *testing.T) {
		t.Run("peer closes with 1009", func(t *testing.T) {
			addr, conns := startEngine(t, Config{}, nil)
			c := dialRaw(t, addr, "", nil)
			h := nextConn(t, conns)
			c.send(t, clientFrame(true, 0x8, closePayload(1009, "")))
			if err := h.waitClosed(t); errors.Is(err, ErrTooLarge) {
				t.Fatalf("OnClose(%v): a peer's 1009 is not our limit", err)
			}
		})
		t.Run("message over MaxPayload", func(t *testing.T) {
			addr, conns := startEngine(t, Config{MaxPayload: 1000}, nil)
			c := dialRaw(t, addr, "", nil)
			h := nextConn(t, conns)
			c.send(t, clientFrame(true, 0x2, make([]byte, 1001)))
			if err := h.waitClosed(t); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("OnClose(%v), want ErrTooLarge", err)
			}
			if _, code, reason := c.readUntilClose(t); code != 1009 {
				t.Fatalf("close %d %q, want 1009", code, reason)
			}
		})
		t.Run("fragments over MaxPayload", func(t *testing.T) {
			addr, conns := startEngine(t, Config{MaxPayload: 1000}, nil)
			c := dialRaw(t, addr, "", nil)
			h := nextConn(t, conns)
			c.send(t, slices.Concat(clientFrame(false, 0x2, make([]byte, 600)), clientFrame(true, 0x0, make([]byte, 600))))
			if err := h.waitClosed(t); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("OnClose(%v), want ErrTooLarge", err)
			}
			if _, code, _ := c.readUntilClose(t); code != 1009 {
				t.Fatalf("close %d, want 1009", code)
			}
		})
	})
}

// A compressed message inflating past MaxPayload closes with 1009 (gws says
// 1011) and is reported as ErrTooLarge; a valid one is delivered.
func TestInflateLimit(t *testing.T) {
	eachEngine(t, func(t *testing.T) {
		addr, conns := startEngine(t, Config{MaxPayload: 4096, Compression: true}, nil)
		deflate := func(p []byte) []byte {
			var b bytes.Buffer
			w, _ := flate.NewWriter(&b, flate.BestCompression)
			_, _ = w.Write(p)
			_ = w.Flush()
			return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
		}
		c := dialRaw(t, addr, "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; server_no_context_takeover\r\n", nil)
		h := nextConn(t, conns)
		small := clientFrame(true, 0x1, deflate([]byte(strings.Repeat("a", 100))))
		small[0] |= 0x40 // RSV1: compressed
		big := clientFrame(true, 0x1, deflate([]byte(strings.Repeat("a", 64<<10))))
		big[0] |= 0x40
		c.send(t, slices.Concat(small, big))
		if err := h.waitClosed(t); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("OnClose(%v), want ErrTooLarge", err)
		}
		if got := h.eventLog(); len(got) != 1 || got[0] != "msg:"+strings.Repeat("a", 100) {
			t.Fatalf("events %.40q, want only the small message", got)
		}
		_, code, reason := c.readUntilClose(t)
		if code != 1009 {
			t.Fatalf("close %d %q, want 1009", code, reason)
		}
		expectEngineless(t, "close reason", reason)
	})
}

// Frames the client sent in the same packet as its upgrade request (left in
// the HTTP server's buffer at the hijack) are delivered, not lost.
func TestFramesBehindTheRequestAreKept(t *testing.T) {
	eachEngine(t, func(t *testing.T) {
		addr, conns := startEngine(t, Config{}, nil)
		c := dialRaw(t, addr, "", slices.Concat(clientFrame(true, 0x1, []byte("early")), clientFrame(true, 0x1, []byte("bird"))))
		h := nextConn(t, conns)
		for _, want := range []string{"early", "bird"} {
			if got := <-h.msgs; got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
		c.Close()
		h.waitClosed(t)
	})
}

// Bad handshakes are refused before the hijack, with our plain-text answer.
func TestHandshakeRefusals(t *testing.T) {
	eachEngine(t, func(t *testing.T) {
		e := engineFor(t, Config{})
		good := func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/ws", nil)
			r.Header.Set("Upgrade", "websocket")
			r.Header.Set("Connection", "keep-alive, Upgrade")
			r.Header.Set("Sec-WebSocket-Version", "13")
			r.Header.Set("Sec-WebSocket-Key", testKey)
			return r
		}
		for _, tc := range []struct {
			name   string
			edit   func(r *http.Request)
			status int
			header string // "Name: value" the answer must carry
		}{
			{"POST", func(r *http.Request) { r.Method = http.MethodPost }, 405, "Allow: GET"},
			{"no Upgrade", func(r *http.Request) { r.Header.Del("Upgrade") }, 426, "Upgrade: websocket"},
			{"Upgrade h2c", func(r *http.Request) { r.Header.Set("Upgrade", "h2c") }, 426, "Upgrade: websocket"},
			{"no Connection token", func(r *http.Request) { r.Header.Set("Connection", "keep-alive") }, 426, "Connection: Upgrade"},
			{"version 8", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") }, 426, "Sec-WebSocket-Version: 13"},
			{"no version", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Version") }, 426, "Sec-WebSocket-Version: 13"},
			{"no key", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Key") }, 400, ""},
			{"key not base64", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "not base64 at all!!!!!!!") }, 400, ""},
			{"key of 15 bytes", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA") }, 400, ""},
			{"key of 17 bytes", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAA=") }, 400, ""},
			{"two keys", func(r *http.Request) { r.Header.Add("Sec-WebSocket-Key", testKey) }, 400, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := good()
				tc.edit(r)
				w := httptest.NewRecorder() // not a Hijacker: reaching the hijack fails differently
				err := e.Upgrade(w, r, func(Conn) Handler { t.Fatal("attached"); return nil })
				if !errors.Is(err, ErrHandshake) {
					t.Fatalf("err = %v, want ErrHandshake", err)
				}
				if w.Code != tc.status {
					t.Fatalf("status %d, want %d", w.Code, tc.status)
				}
				if name, value, ok := strings.Cut(tc.header, ": "); ok && w.Header().Get(name) != value {
					t.Fatalf("%s: %q, want %q", name, w.Header().Get(name), value)
				}
				if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Fatalf("Content-Type %q", ct)
				}
				expectEngineless(t, "body", w.Body.String())
			})
		}
		t.Run("valid", func(t *testing.T) {
			w := httptest.NewRecorder()
			if err := e.Upgrade(w, good(), nil); errors.Is(err, ErrHandshake) || err == nil {
				t.Fatalf("a valid handshake: %v (want only the hijack to fail)", err)
			}
			expectEngineless(t, "body", w.Body.String())
		})
	})
}
