package allspark_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allspark/allspark"
	"github.com/allspark/allspark/parser"
)

func TestEchoKeepsValuesExact(t *testing.T) {
	_, url := startServer(t, allspark.Options{}, echo)
	c := dial(t, url, "/primus", nil)
	for _, msg := range []string{`0`, `"wörld ✓ 🚀"`, `{"a":[1,2,{"b":null}]}`, `"\u2028\u2029"`, `-1.5`, `true`} {
		c.sendText(msg)
		got := c.next()
		var a, b any
		_ = json.Unmarshal([]byte(msg), &a)
		if err := json.Unmarshal([]byte(got.text), &b); err != nil || !jsonEqual(a, b) {
			t.Fatalf("echo of %s = %s", msg, got.text)
		}
		if got.binary {
			t.Fatalf("echo of %s came as a binary frame", msg)
		}
	}
	// U+2028/2029 must travel escaped (Primus does this for old JS engines).
	c.sendText(`"\u2028"`)
	if got := c.next().text; got != `"\u2028"` {
		t.Fatalf("U+2028 not escaped: %q", got)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestBinaryFramePassesThroughUndecoded(t *testing.T) {
	got := make(chan any, 1)
	_, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnData(func(d any) { got <- d; _ = sp.Write(d) })
			return nil
		})
	})
	c := dial(t, url, "/primus", nil)
	if err := c.conn.WriteMessage(2, []byte{0, 1, 2, 0xff}); err != nil {
		t.Fatal(err)
	}
	if d := <-got; string(d.(parser.Binary)) != "\x00\x01\x02\xff" {
		t.Fatalf("data = %#v", d)
	}
	m := c.next()
	if !m.binary || m.text != "\x00\x01\x02\xff" {
		t.Fatalf("echo = %+v", m)
	}
}

func TestIDRoundTrip(t *testing.T) {
	ids := make(chan string, 1)
	_, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error { ids <- sp.ID(); return nil })
	})
	c := dial(t, url, "/primus", nil)
	c.sendText(`"primus::id::"`)
	want := `"primus::id::` + <-ids + `"`
	c.expect(want)
}

func TestUnknownPrimusPrefixIsData(t *testing.T) {
	_, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnData(func(d any) { _ = sp.Write(map[string]any{"got": d}) })
			return nil
		})
	})
	c := dial(t, url, "/primus", nil)
	c.sendText(`"primus::foo::bar"`)
	c.expect(`{"got":"primus::foo::bar"}`)
}

func TestInvalidJSONReportsErrorAndKeepsConnection(t *testing.T) {
	errs := make(chan error, 1)
	_, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnError(func(err error) { errs <- err })
			sp.OnData(func(d any) { _ = sp.Write(d) })
			return nil
		})
	})
	c := dial(t, url, "/primus", nil)
	c.sendText(`{"broken":`)
	var pe *parser.Error
	select {
	case err := <-errs:
		if !errors.As(err, &pe) || pe.Op != "decode" {
			t.Fatalf("error = %v, want *parser.Error decode", err)
		}
	case <-time.After(waitLong):
		t.Fatal("the malformed message was never reported to OnError")
	}
	c.sendText(`"still here"`)
	c.expect(`"still here"`)
}

func TestPingFrameIsExactJSONStringLiteral(t *testing.T) {
	_, url := startServer(t, allspark.Options{PingInterval: 20 * time.Millisecond}, nil)
	c := dial(t, url, "/primus", nil)
	select {
	case m := <-c.msgs:
		if !regexp.MustCompile(`^"primus::ping::\d{13}"$`).MatchString(m.text) || m.binary {
			t.Fatalf("ping frame = %q (binary %v)", m.text, m.binary)
		}
	case <-time.After(waitLong):
		t.Fatal("no ping")
	}
}

func TestMissingPongDisconnectsWithoutServerClose(t *testing.T) {
	srv, url := startServer(t, allspark.Options{PingInterval: 20 * time.Millisecond}, nil)
	c := dial(t, url, "/primus", nil)
	c.autoPong.Store(false)
	msgs, _ := c.waitClose()
	for _, m := range msgs {
		if m == `"primus::server::close"` {
			t.Fatal("server::close sent on heartbeat timeout; the client would not reconnect")
		}
	}
	if len(msgs) == 0 {
		t.Fatal("closed before any ping")
	}
	if srv.Stats().MissedPongs == 0 {
		t.Fatal("MissedPongs not counted")
	}
}

func TestAnsweredPingsKeepConnection(t *testing.T) {
	srv, url := startServer(t, allspark.Options{PingInterval: 15 * time.Millisecond}, nil)
	c := dial(t, url, "/primus", nil) // autoPong on
	c.survivePings(6)
	if srv.Len() != 1 {
		t.Fatalf("Len = %d", srv.Len())
	}
}

func TestWebSocketPingFrameCountsAsPong(t *testing.T) {
	_, url := startServer(t, allspark.Options{PingInterval: 20 * time.Millisecond}, nil)
	c := dial(t, url, "/primus", nil)
	c.autoPong.Store(false)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				_ = c.conn.WritePing(nil)
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	c.survivePings(6)
}

func TestEndWithoutReconnectSendsServerClose(t *testing.T) {
	_, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnData(func(any) { sp.End("bye", false) })
			return nil
		})
	})
	c := dial(t, url, "/primus", nil)
	c.sendText(`1`)
	msgs, err := c.waitClose()
	if strings.Join(msgs, ",") != `"bye","primus::server::close"` {
		t.Fatalf("messages before close = %v", msgs)
	}
	if code := closeCode(err); code != 1000 {
		t.Fatalf("close code %d (%v), want 1000", code, err)
	}
}

func TestEndWithReconnectSendsNoServerClose(t *testing.T) {
	_, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnData(func(any) { sp.End(nil, true) })
			return nil
		})
	})
	c := dial(t, url, "/primus", nil)
	c.sendText(`1`)
	msgs, _ := c.waitClose()
	if len(msgs) != 0 {
		t.Fatalf("messages before close = %v", msgs)
	}
}

func TestWriteAfterEndIsErrClosed(t *testing.T) {
	result := make(chan error, 1)
	_, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.End(nil, false)
			result <- sp.Write("late")
			if sp.ReadyState() != allspark.Closed {
				t.Error("ReadyState not Closed after End")
			}
			return nil
		})
	})
	dial(t, url, "/primus", nil)
	if err := <-result; !errors.Is(err, allspark.ErrClosed) {
		t.Fatalf("Write after End = %v", err)
	}
}

func TestReservedStringsCannotBeWritten(t *testing.T) {
	result := make(chan [2]error, 1)
	srv, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			_, berr := sp.Server().Broadcast("primus::server::close")
			result <- [2]error{sp.Write("primus::ping::1"), berr}
			return nil
		})
	})
	_ = srv
	dial(t, url, "/primus", nil)
	for _, err := range <-result {
		if !errors.Is(err, allspark.ErrReserved) {
			t.Fatalf("err = %v, want ErrReserved", err)
		}
	}
}

func TestMaxLengthIncomingClosesWith1009(t *testing.T) {
	errs := make(chan error, 2)
	_, url := startServer(t, allspark.Options{MaxLength: 100}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnError(func(err error) { errs <- err })
			return nil
		})
	})
	c := dial(t, url, "/primus", nil)
	time.Sleep(10 * time.Millisecond) // let the hook register OnError
	c.sendText(`"` + strings.Repeat("x", 200) + `"`)
	_, err := c.waitClose()
	if code := closeCode(err); code != 1009 {
		t.Fatalf("close = %v (code %d), want 1009", err, code)
	}
	select {
	case e := <-errs:
		if !errors.Is(e, allspark.ErrTooLarge) {
			t.Fatalf("spark error = %v", e)
		}
	case <-time.After(waitLong):
		t.Fatal("ErrTooLarge not reported")
	}
}

func TestMaxLengthOutgoing(t *testing.T) {
	result := make(chan error, 1)
	_, url := startServer(t, allspark.Options{MaxLength: 100}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			result <- sp.Write(strings.Repeat("x", 200))
			return nil
		})
	})
	dial(t, url, "/primus", nil)
	if err := <-result; !errors.Is(err, allspark.ErrTooLarge) {
		t.Fatalf("Write = %v, want ErrTooLarge", err)
	}
}

func TestInvalidUTF8TextFrameCloses1007(t *testing.T) {
	_, url := startServer(t, allspark.Options{}, echo)
	c := dial(t, url, "/primus", nil)
	// gws's client refuses to send bad UTF-8 itself, so write the frame raw.
	raw := c.conn.NetConn()
	payload := []byte{'"', 0xff, 0xfe, '"'}
	frame := []byte{0x81, 0x80 | byte(len(payload)), 1, 2, 3, 4}
	for i, b := range payload {
		frame = append(frame, b^[]byte{1, 2, 3, 4}[i%4])
	}
	if _, err := raw.Write(frame); err != nil {
		t.Fatal(err)
	}
	_, err := c.waitClose()
	if code := closeCode(err); code != 1007 {
		t.Fatalf("close = %v (code %d), want 1007", err, code)
	}
}

func TestPlainHTTPAnd404(t *testing.T) {
	_, url := startServer(t, allspark.Options{}, nil)
	for path, want := range map[string]int{"/primus": 426, "/primus/anything": 426, "/primusx": 404, "/other": 404} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
		if want == 426 && !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
			t.Errorf("GET %s lacks no-cache headers: %v", path, resp.Header)
		}
		if want == 426 && (resp.Header.Get("Upgrade") != "websocket" || !strings.EqualFold(resp.Header.Get("Connection"), "upgrade")) {
			t.Errorf("GET %s: a 426 must name the protocol (Upgrade: websocket, Connection: Upgrade): %v", path, resp.Header)
		}
	}
}

func TestSpec(t *testing.T) {
	for _, tc := range []struct {
		opts allspark.Options
		want string
	}{
		{allspark.Options{}, `{"pingInterval":30000,"pathname":"/primus","version":"` + allspark.Version + `","parser":"json","transformer":"websockets"}`},
		{allspark.Options{Pathname: "rt/", PingInterval: allspark.NoPing, Parser: parser.MsgPack{}}, `{"pingInterval":false,"pathname":"/rt","version":"` + allspark.Version + `","parser":"msgpack","transformer":"websockets"}`},
	} {
		srv, url := startServer(t, tc.opts, nil)
		resp, err := http.Get(url + srv.Pathname() + "/spec")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != tc.want || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("spec = %s (%s), want %s", body, resp.Header.Get("Content-Type"), tc.want)
		}
		if !strings.Contains(resp.Header.Get("Cache-Control"), "no-cache") {
			t.Errorf("spec lacks no-cache headers")
		}
	}
}

func TestQueryHeadersAndRequestReachSpark(t *testing.T) {
	type seen struct{ q, h string }
	got := make(chan seen, 1)
	_, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			got <- seen{sp.Query().Get("room"), sp.Headers().Get("X-Test")}
			return nil
		})
	})
	dial(t, url, "/primus?room=lobby&_primuscb=abc", http.Header{"X-Test": {"yes"}})
	if s := <-got; s.q != "lobby" || s.h != "yes" {
		t.Fatalf("seen %+v", s)
	}
}

func TestMsgPackParserRoundTrip(t *testing.T) {
	got := make(chan any, 1)
	_, url := startServer(t, allspark.Options{Parser: parser.MsgPack{}}, func(s *allspark.Server) {
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnData(func(d any) { got <- d; _ = sp.Write(d) })
			return nil
		})
	})
	c := dial(t, url, "/primus", nil)
	payload, _, _ := parser.MsgPack{}.Encode(map[string]any{"n": 1, "s": "ü"})
	if err := c.conn.WriteMessage(2, payload); err != nil {
		t.Fatal(err)
	}
	d := (<-got).(map[string]any)
	if d["s"] != "ü" {
		t.Fatalf("decoded %#v", d)
	}
	m := c.next()
	back, err := parser.MsgPack{}.Decode([]byte(m.text), true)
	if !m.binary || err != nil || back.(map[string]any)["s"] != "ü" {
		t.Fatalf("echo %+v: %v %v", m, back, err)
	}
	// Control messages travel msgpack-encoded too.
	idReq, _, _ := parser.MsgPack{}.Encode("primus::id::")
	_ = c.conn.WriteMessage(2, idReq)
	v, err := parser.MsgPack{}.Decode([]byte(c.next().text), true)
	if err != nil || !strings.HasPrefix(v.(string), "primus::id::") {
		t.Fatalf("id answer %v %v", v, err)
	}
}

func TestCompressionIsNegotiatedWhenEnabled(t *testing.T) {
	for _, on := range []bool{false, true} {
		_, url := startServer(t, allspark.Options{Compression: on}, echo)
		c, err := tryDialDeflate(t, url)
		if err != nil {
			t.Fatal(err)
		}
		ext := c.resp.Header.Get("Sec-WebSocket-Extensions")
		if strings.Contains(ext, "permessage-deflate") != on {
			t.Fatalf("Compression=%v: extensions %q", on, ext)
		}
		big := `"` + strings.Repeat("squeeze me ", 2000) + `"`
		c.sendText(big)
		c.expect(big)
	}
}

// A WebSocket ping that arrives long after the last data write is still
// answered: the write deadline that write left behind has passed by then and
// must not fail the pong (and with it a healthy connection).
func TestPingFrameAnsweredAfterWriteDeadlinePassed(t *testing.T) {
	_, base := startServer(t, allspark.Options{PingInterval: allspark.NoPing, WriteTimeout: 100 * time.Millisecond}, echo)
	c := dial(t, base, "/primus", nil)
	c.sendText(`"hello"`)
	c.expect(`"hello"`)
	time.Sleep(300 * time.Millisecond) // well past the data write's deadline
	if err := c.conn.WritePing([]byte("are you there")); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-c.pongs:
		if p != "are you there" {
			t.Fatalf("pong %q", p)
		}
	case err := <-c.closed:
		t.Fatalf("connection closed instead of a pong: %v", err)
	case <-time.After(waitLong):
		t.Fatal("no pong")
	}
	c.sendText(`"still here"`)
	c.expect(`"still here"`)
}
