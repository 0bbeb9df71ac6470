package allspark

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestForwardCodecRoundTrip(t *testing.T) {
	q := &forwardRequest{
		token: 1 << 40, method: "POST", url: "/primus/?EIO=4&transport=polling&sid=x.y", host: "example.com",
		remote: "192.0.2.1:4000", contentLength: 3,
		header: http.Header{"Content-Type": {"text/plain"}, "X-Forwarded-For": {"a", "b"}},
		body:   []byte("4hi"),
	}
	got, err := unmarshalForwardRequest(q.marshal())
	if err != nil || got.token != q.token || got.method != q.method || got.url != q.url || got.host != q.host ||
		got.remote != q.remote || got.contentLength != 3 || string(got.body) != "4hi" ||
		!slices.Equal(got.header["X-Forwarded-For"], []string{"a", "b"}) || got.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("request: %+v %v", got, err)
	}
	q.contentLength = -1
	if got, _ := unmarshalForwardRequest(q.marshal()); got.contentLength != -1 {
		t.Fatalf("unknown length: %d", got.contentLength)
	}
	a := &forwardAnswer{status: 400, header: http.Header{"Content-Type": {"application/json"}}, body: []byte(`{"code":1}`)}
	ga, err := unmarshalForwardAnswer(a.marshal())
	if err != nil || ga.status != 400 || string(ga.body) != `{"code":1}` || ga.header.Get("Content-Type") != "application/json" {
		t.Fatalf("answer: %+v %v", ga, err)
	}
}

// Envelopes that do not decode are refused, never half-read: a header
// count past maxForwardHeaders, or more fields announced than bytes.
//
// Each decoder gets the oversized envelope of its own kind: an answer's
// bytes read as a request are other fields, and for some orders of the
// map's headers they happen to decode (the test failed so, once in CI).
func TestForwardCodecRefusesMalformed(t *testing.T) {
	header := http.Header{}
	for i := range maxForwardHeaders + 1 {
		header["H"+strconv.Itoa(i)] = []string{"v"}
	}
	manyA := (&forwardAnswer{status: 200, header: header}).marshal()
	manyQ := (&forwardRequest{token: 1, method: "GET", url: "/x", header: header}).marshal()
	malformed := [][]byte{nil, {2}, {1}, {1, 0}, {1, 200, 1, 9}}
	for _, b := range append(malformed, manyA) {
		if _, err := unmarshalForwardAnswer(b); !errors.Is(err, errBadForward) {
			t.Errorf("answer %q: %v", b, err)
		}
	}
	for _, b := range append(malformed, manyQ) {
		if _, err := unmarshalForwardRequest(b); !errors.Is(err, errBadForward) {
			t.Errorf("request %q: %v", b, err)
		}
	}
}

func FuzzForwardEnvelope(f *testing.F) {
	f.Add((&forwardRequest{token: 7, method: "GET", url: "/x", header: http.Header{"A": {"b"}}}).marshal())
	f.Add((&forwardAnswer{status: 204, header: http.Header{"A": {"b"}}, body: []byte("z")}).marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		if q, err := unmarshalForwardRequest(b); err == nil {
			again, err := unmarshalForwardRequest(q.marshal())
			if err != nil || again.url != q.url || again.token != q.token || string(again.body) != string(q.body) {
				t.Fatalf("request does not round-trip: %v", err)
			}
		}
		if a, err := unmarshalForwardAnswer(b); err == nil {
			if again, err := unmarshalForwardAnswer(a.marshal()); err != nil || again.status != a.status {
				t.Fatalf("answer does not round-trip: %v", err)
			}
		}
	})
}

// The owner's in-memory response holds at most its limit: a write past it
// fails (the wire ends the session, as for a client that reads nothing)
// and the answer is a 502.
func TestReplyWriterIsBounded(t *testing.T) {
	w := &replyWriter{header: make(http.Header), limit: 10}
	if n, err := w.Write([]byte("0123456789")); n != 10 || err != nil {
		t.Fatalf("within the limit: %d %v", n, err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, errReplyTooLarge) {
		t.Fatalf("past the limit: %v", err)
	}
	if len(w.body) != 10 {
		t.Fatalf("held %d bytes", len(w.body))
	}
	if a := w.answer(); a.status != http.StatusBadGateway {
		t.Fatalf("answer %d", a.status)
	}
	w2 := &replyWriter{header: make(http.Header), limit: 10}
	if a := w2.answer(); a.status != http.StatusOK {
		t.Fatalf("empty answer %d", a.status)
	}
}

// The SockJS owner cache never holds more than sockJSOwnersCap entries.
func TestSockJSOwnerCacheIsBounded(t *testing.T) {
	var f forwarder
	f.owners = make(map[string]string)
	for i := range sockJSOwnersCap + 500 {
		f.remember("s"+strconv.Itoa(i), "b")
	}
	if n := len(f.owners); n != sockJSOwnersCap {
		t.Fatalf("%d entries", n)
	}
	f.remember("s1", "c") // an update makes no room
	if n := len(f.owners); n != sockJSOwnersCap {
		t.Fatalf("%d entries after an update", n)
	}
}

// A cached owner that no longer has the session answers 404, which
// forgets it; the next request asks again.
func TestSockJSOwnerForgottenOn404(t *testing.T) {
	a, b := newClusterPair(t, ClusterOptions{})
	b.fwd.remember("sgone", "a")
	w := &replyWriter{header: make(http.Header), limit: 1 << 10}
	r, _ := http.NewRequest("POST", "/sockjs/0/gone/xhr_send", strings.NewReader(`["x"]`))
	r.Header.Set("Content-Type", "text/plain")
	b.sockjsPlain.ServeHTTP(w, r.WithContext(context.Background()))
	if w.status != http.StatusNotFound {
		t.Fatalf("status %d", w.status)
	}
	b.fwd.mu.Lock()
	_, still := b.fwd.owners["sgone"]
	b.fwd.mu.Unlock()
	if still {
		t.Fatal("the owner that answered 404 is still cached")
	}
	if a.fwd.tag == b.fwd.tag {
		t.Fatal("two nodes with one tag")
	}
}

// BenchmarkSidTag is the cost of finding an Engine.IO session's node
// without asking anybody: one tag per live peer.
func BenchmarkSidTag(b *testing.B) {
	for b.Loop() {
		_ = sidTag("a-node-id-of-twenty-")
	}
}

// A peer that does not serve forwarded requests (an older version answers
// ErrUnknownOp) leaves the request to the wire here: "Session ID unknown",
// at once, not a 503.
func TestForwardToANodeWithoutTheOp(t *testing.T) {
	a, b := newClusterPair(t, ClusterOptions{})
	delete(b.cluster.ops, opForward)
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/primus/?EIO=4&transport=polling&sid=someone."+b.fwd.tag, nil)
	a.eio.ServeHTTP(rec, r)
	if rec.Code != 400 || rec.Body.String() != `{"code":1,"message":"Session ID unknown"}` {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
	if a.Stats().Forwarded != 1 {
		t.Fatal("the request was not offered to b")
	}
}
