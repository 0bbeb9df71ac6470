package eio

import (
	"bytes"
	"net/http/httptest"
	"testing"
)

// countingHandler counts what a session delivers.
type countingHandler struct{ msgs, pings, closes int }

func (h *countingHandler) OnMessage(bool, []byte) { h.msgs++ }
func (h *countingHandler) OnPing()                { h.pings++ }
func (h *countingHandler) OnPeerClose()           {}
func (h *countingHandler) OnClose(error)          { h.closes++ }

// FuzzServeSend posts arbitrary bodies to a session: the answer is 200
// "ok", 400 or 413, never a panic; on 200 every message packet of the body
// was delivered, and the Handler hears OnClose exactly once when the
// session ends.
func FuzzServeSend(f *testing.F) {
	for _, s := range []string{"4hello", "4a\x1ebAQID\x1e6", "1", "2", "3\x1e4x", "\x1e", "bno!", "4" + string(make([]byte, 300))} {
		f.Add([]byte(s))
	}
	srv, err := NewServer(Config{MaxPayload: 256, MaxPackets: 16}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s := newSession(srv, httptest.NewRequest("GET", "/", nil))
		h := &countingHandler{}
		s.h = h
		w := httptest.NewRecorder()
		s.serveSend(w, httptest.NewRequest("POST", "/?EIO=4&transport=polling", bytes.NewReader(body)))
		switch w.Code {
		case 200:
			if w.Body.String() != "ok" {
				t.Fatalf("200 with body %q", w.Body.String())
			}
			// A 200 means the body was well formed up to its first Close
			// packet: the server stops there, so what follows a Close may
			// be malformed (DecodePayload then returns the packets before
			// the bad one, with a *DecodeError).
			want := 0
			pk, _ := DecodePayload(nil, bytes.Clone(body), Limits{MaxPackets: 16, MaxBytes: 256})
			for _, p := range pk {
				if p.Type == Close {
					break
				}
				if p.Type == Message {
					want++
				}
			}
			if h.msgs != want {
				t.Fatalf("delivered %d messages, body has %d", h.msgs, want)
			}
		case 400, 413:
		default:
			t.Fatalf("status %d", w.Code)
		}
		s.finish(nil)
		if h.closes != 1 {
			t.Fatalf("OnClose called %d times", h.closes)
		}
	})
}
