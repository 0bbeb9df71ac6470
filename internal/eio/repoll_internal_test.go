package eio

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/transport"
)

// nopHandler takes a session's events and does nothing.
type nopHandler struct{ closed chan error }

func (nopHandler) OnMessage(bool, []byte) {}
func (nopHandler) OnPing()                {}
func (nopHandler) OnPeerClose()           {}
func (h nopHandler) OnClose(err error)    { h.closed <- err }

type oneAcceptor struct {
	sessions chan transport.Session
	h        nopHandler
}

func (a oneAcceptor) Accept(_ *http.Request, open func(transport.Attach) error) error {
	return open(func(s transport.Session) transport.Handler { a.sessions <- s; return a.h })
}

// A client polls again the moment it has read an answer. The answered GET
// must have left the session's slot by then: found there, the new GET
// counts as an overlapping poll and ends the session (seen under the
// poll-fanout benchmark's load). The hook holds the answered GET in the
// window between the flush and the release, so the next GET lands in it.
func TestRepollRightAfterAnswerIsNoOverlap(t *testing.T) {
	acc := oneAcceptor{sessions: make(chan transport.Session, 1), h: nopHandler{closed: make(chan error, 1)}}
	srv, err := NewServer(Config{}, acc)
	if err != nil {
		t.Fatal(err)
	}
	srv.afterAnswer = func() { time.Sleep(30 * time.Millisecond) }
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()
	// A new connection per request, as a client with a pool of them may
	// do: on the same keep-alive connection the server would not read the
	// next GET before the handler of the last one returned.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(q string) (int, string) {
		res, err := hc.Get(ts.URL + "/?EIO=4&transport=polling" + q)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, string(b)
	}
	_, open := get("")
	sid := open[strings.Index(open, `"sid":"`)+7:]
	sid = sid[:strings.IndexByte(sid, '"')]
	sess := <-acc.sessions
	go func() {
		for range 5 {
			if _, _, err := sess.WriteBatch([]transport.Message{{Payload: []byte(`"x"`)}}); err != nil {
				return
			}
		}
	}()
	for got := 0; got < 5; {
		st, body := get("&sid=" + sid)
		if st != 200 {
			t.Fatalf("poll after %d answers: %d %q", got, st, body)
		}
		got += strings.Count(body, `4"x"`)
	}
	select {
	case err := <-acc.h.closed:
		t.Fatalf("session ended: %v", err)
	default:
	}
}
