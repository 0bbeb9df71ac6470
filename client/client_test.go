package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/client"
	"github.com/allspark/allspark/parser"
)

func TestEcho(t *testing.T) {
	url := serve(t, newServer(t, allspark.Options{}, echo))
	rec := newRecorder(t)
	c, err := client.Dial(ctxFor(t), url, client.Options{OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	rec.expect(client.EventOpen)
	if got := c.ReadyState(); got != client.Open {
		t.Fatalf("ReadyState = %v, want open", got)
	}
	for _, v := range []any{
		"hello", float64(0), true, nil, "\u2028<&>", "primus", // "primus" alone is data
		map[string]any{"echo": "x", "n": float64(3)},
		[]any{float64(1), "two"},
		parser.Binary{0, 1, 2, 255},
	} {
		if err := c.Write(v); err != nil {
			t.Fatalf("Write(%v): %v", v, err)
		}
		ev := rec.expect(client.EventData)[0]
		if !reflect.DeepEqual(ev.Data, v) {
			t.Fatalf("echo of %#v = %#v", v, ev.Data)
		}
	}
}

func TestWriteRejectsReserved(t *testing.T) {
	c, err := client.New("ws://127.0.0.1:1", client.Options{Manual: true})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	if err := c.Write("primus::ping::1"); !errors.Is(err, client.ErrReserved) {
		t.Fatalf("Write(primus::...) = %v, want ErrReserved", err)
	}
	var perr *parser.Error
	if err := c.Write(func() {}); !errors.As(err, &perr) {
		t.Fatalf("Write(func) = %v, want *parser.Error", err)
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"ftp://x", "ws://", "::"} {
		if _, err := client.New(u, client.Options{Manual: true}); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
}

func TestWritesBeforeOpenAreFlushedInOrder(t *testing.T) {
	got := make(chan any, 100)
	url := serve(t, newServer(t, allspark.Options{}, func(srv *allspark.Server) {
		srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
			s.OnData(func(d any) { got <- d })
			return nil
		})
	}))
	rec := newRecorder(t)
	c, err := client.New(url, client.Options{Manual: true, OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	const queued = 50
	for i := range queued {
		if err := c.Write(i); err != nil {
			t.Fatal(err)
		}
	}
	if s := c.ReadyState(); s != client.Closed {
		t.Fatalf("ReadyState before Open = %v", s)
	}
	if err := c.Open(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Write(queued); err != nil { // after open: must come last
		t.Fatal(err)
	}
	for i := range queued + 1 {
		if v := recv(t, got); v != float64(i) {
			t.Fatalf("message %d = %v, want %d", i, v, i)
		}
	}
	rec.expect(client.EventOpen)
}

func TestID(t *testing.T) {
	srv := newServer(t, allspark.Options{}, nil)
	ids := sparks(srv)
	url := serve(t, srv)
	c, err := client.New(url, client.Options{Manual: true})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	ctx := ctxFor(t)
	// Asked before open: answered once the connection opens.
	res := make(chan string, 1)
	go func() {
		id, err := c.ID(ctx)
		if err != nil {
			t.Error(err)
		}
		res <- id
	}()
	if err := c.Open(ctx); err != nil {
		t.Fatal(err)
	}
	want := recv(t, ids).ID()
	if got := recv(t, res); got != want {
		t.Fatalf("ID before open = %q, want %q", got, want)
	}
	if got, err := c.ID(ctx); err != nil || got != want {
		t.Fatalf("ID = %q, %v; want %q", got, err, want)
	}
}

func TestIDFailsAfterEnd(t *testing.T) {
	url := serve(t, newServer(t, allspark.Options{}, nil))
	c, err := client.Dial(ctxFor(t), url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	c.End(nil)
	if _, err := c.ID(ctxFor(t)); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("ID after End = %v, want ErrClosed", err)
	}
	if err := c.Write("x"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Write after End = %v, want ErrClosed", err)
	}
	// Open again after End works, as in Primus.
	if err := c.Open(ctxFor(t)); err != nil {
		t.Fatalf("Open after End: %v", err)
	}
}

func TestHeadersQueryAndUserinfo(t *testing.T) {
	reqs := make(chan *allspark.Spark, 1)
	srv := newServer(t, allspark.Options{Pathname: "/rt"}, func(srv *allspark.Server) {
		srv.OnConnection(func(_ context.Context, s *allspark.Spark) error {
			reqs <- s
			return nil
		})
	})
	base := serve(t, srv)
	u, _ := url.Parse(base)
	u.User = url.UserPassword("alice", "s3cret")
	u.Path = "/rt"
	u.RawQuery = "a=1"
	c, err := client.Dial(ctxFor(t), u.String(), client.Options{
		Header: http.Header{"X-Token": {"abc"}},
		Query:  url.Values{"b": {"2"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	s := recv(t, reqs)
	q := s.Query()
	if q.Get("a") != "1" || q.Get("b") != "2" || q.Get("_primuscb") == "" {
		t.Errorf("query = %v, want a=1, b=2 and _primuscb", q)
	}
	if got := s.Headers().Get("X-Token"); got != "abc" {
		t.Errorf("X-Token = %q", got)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	if got := s.Headers().Get("Authorization"); got != want {
		t.Errorf("Authorization = %q, want %q", got, want)
	}
}

func TestMsgPackRoundTrip(t *testing.T) {
	url := serve(t, newServer(t, allspark.Options{Parser: parser.MsgPack{}}, echo))
	rec := newRecorder(t)
	c, err := client.Dial(ctxFor(t), url, client.Options{Parser: parser.MsgPack{}, OnEvent: rec.on})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	rec.expect(client.EventOpen) // no ErrParserMismatch before it
	in := map[string]any{"s": "x", "n": 300, "b": []byte{0, 1, 2}, "l": []any{"a", true}}
	if err := c.Write(in); err != nil {
		t.Fatal(err)
	}
	out, ok := rec.expect(client.EventData)[0].Data.(map[string]any)
	if !ok {
		t.Fatalf("echo is %T", out)
	}
	if out["s"] != "x" || !reflect.DeepEqual(out["b"], []byte{0, 1, 2}) || !reflect.DeepEqual(out["l"], []any{"a", true}) {
		t.Fatalf("echo = %#v", out)
	}
	if n := reflect.ValueOf(out["n"]); !n.CanConvert(reflect.TypeFor[int64]()) || n.Convert(reflect.TypeFor[int64]()).Int() != 300 {
		t.Fatalf("n = %#v", out["n"])
	}
}

func TestParserMismatchIsReported(t *testing.T) {
	url := serve(t, newServer(t, allspark.Options{Parser: parser.MsgPack{}}, nil))
	rec := newRecorder(t)
	c, err := client.New(url, client.Options{OnEvent: rec.on}) // JSON
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	ev := rec.next()
	if ev.Kind != client.EventError || !errors.Is(ev.Err, client.ErrParserMismatch) {
		t.Fatalf("first event = %v %v, want error ErrParserMismatch", ev.Kind, ev.Err)
	}
}

func TestTLSAndCompression(t *testing.T) {
	srv := newServer(t, allspark.Options{Compression: true, PingInterval: time.Second}, echo)
	ts := httptest.NewTLSServer(srv)
	t.Cleanup(func() {
		_ = srv.Close()
		ts.Close()
	})
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	rec := newRecorder(t)
	c, err := client.Dial(ctxFor(t), "wss"+strings.TrimPrefix(ts.URL, "https"), client.Options{
		TLSConfig:   &tls.Config{RootCAs: pool},
		Compression: true,
		OnEvent:     rec.on,
	})
	if err != nil {
		t.Fatal(err)
	}
	destroy(t, c)
	rec.expect(client.EventOpen) // no error: the spec was fetched over HTTPS too
	big := strings.Repeat("compressible ", 1000)
	if err := c.Write(big); err != nil {
		t.Fatal(err)
	}
	if ev := rec.expect(client.EventData)[0]; ev.Data != big {
		t.Fatal("echo over wss with compression differs")
	}
	// Without the CA the handshake fails: an error event, no open.
	_, err = client.Dial(ctxFor(t), "wss"+strings.TrimPrefix(ts.URL, "https"), client.Options{Strategy: client.StrategyNone})
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Fatalf("Dial without CA = %v, want x509.UnknownAuthorityError", err)
	}
}
