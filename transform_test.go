package allspark_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

func TestIncomingTransforms(t *testing.T) {
	errs := make(chan error, 1)
	_, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.Transform(allspark.Incoming, func(sp *allspark.Spark, p *allspark.Packet) (bool, error) {
			switch p.Data {
			case "secret":
				return false, nil // swallowed
			case "bad":
				return false, errors.New("refused")
			}
			if string(p.Raw) == `"raw"` {
				p.Data = "saw raw bytes"
			}
			return true, nil
		})
		s.Transform(allspark.Incoming, func(sp *allspark.Spark, p *allspark.Packet) (bool, error) {
			if str, ok := p.Data.(string); ok {
				p.Data = "<" + str + ">"
			}
			return true, nil
		})
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			sp.OnError(func(err error) { errs <- err })
			sp.OnData(func(d any) { _ = sp.Write(d) })
			return nil
		})
	})
	c := dial(t, url, "/primus", nil)
	// Transforms run as messages arrive, before the hooks finish: wait for
	// the id (answered after the hooks) so OnError is registered.
	c.sendText(`"primus::id::"`)
	c.next()
	c.sendText(`"secret"`)
	c.sendText(`"bad"`)
	var te *allspark.TransformError
	var err error
	select {
	case err = <-errs:
	case <-time.After(waitLong):
		t.Fatal("no transform error reported")
	}
	if !errors.As(err, &te) || te.Direction != allspark.Incoming || te.Err.Error() != "refused" {
		t.Fatalf("error = %v", err)
	}
	c.sendText(`"raw"`)
	c.expect(`"<saw raw bytes>"`) // "secret" was swallowed, "bad" failed; the connection lives
}

func TestOutgoingTransforms(t *testing.T) {
	writeErr := make(chan error, 1)
	srv, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		s.Transform(allspark.Outgoing, func(sp *allspark.Spark, p *allspark.Packet) (bool, error) {
			switch p.Data {
			case "drop":
				return false, nil
			case "fail":
				return false, errors.New("nope")
			}
			p.Data = map[string]any{"to": sp.ID(), "data": p.Data}
			return true, nil
		})
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			_ = sp.Write("drop")
			writeErr <- sp.Write("fail")
			_ = sp.Write("hello")
			return nil
		})
	})
	c := dial(t, url, "/primus", nil)
	var te *allspark.TransformError
	if err := <-writeErr; !errors.As(err, &te) || te.Direction != allspark.Outgoing {
		t.Fatalf("Write = %v", err)
	}
	m := c.next().text
	var id string
	srv.ForEach(func(sp *allspark.Spark) bool { id = sp.ID(); return false })
	if m != `{"data":"hello","to":"`+id+`"}` {
		t.Fatalf("got %s", m)
	}
	// Broadcasts pass outgoing transforms per spark too.
	if n, err := srv.Broadcast("all"); n != 1 || err != nil {
		t.Fatalf("Broadcast = %d %v", n, err)
	}
	c.expect(`{"data":"all","to":"` + id + `"}`)
	// Control messages bypass transforms.
	c.sendText(`"primus::id::"`)
	c.expect(`"primus::id::` + id + `"`)
}

type countingPlugin struct {
	name       string
	pluggedOut bool
	fail       error
}

func (p *countingPlugin) Name() string { return p.name }
func (p *countingPlugin) Server(s *allspark.Server) error {
	if p.fail != nil {
		return p.fail
	}
	s.Transform(allspark.Outgoing, func(sp *allspark.Spark, pk *allspark.Packet) (bool, error) {
		pk.Data = p.name + ":" + pk.Data.(string)
		return true, nil
	})
	return nil
}
func (p *countingPlugin) Plugout(*allspark.Server) error { p.pluggedOut = true; return nil }
func (p *countingPlugin) Client() string                 { return "/* client part */" }

func TestPlugins(t *testing.T) {
	p := &countingPlugin{name: "tag"}
	srv, url := startServer(t, allspark.Options{}, func(s *allspark.Server) {
		if err := s.Plugin(p); err != nil {
			t.Fatal(err)
		}
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error { return sp.Write("x") })
	})
	c := dial(t, url, "/primus", nil)
	c.expect(`"tag:x"`)
	if err := srv.Plugin(&countingPlugin{name: "tag"}); !errors.Is(err, allspark.ErrDuplicateName) {
		t.Fatalf("duplicate plugin: %v", err)
	}
	boom := errors.New("boom")
	if err := srv.Plugin(&countingPlugin{name: "broken", fail: boom}); !errors.Is(err, boom) {
		t.Fatalf("failing plugin: %v", err)
	}
	if cps := srv.ClientPlugins(); len(cps) != 1 || cps[0].Client() != "/* client part */" {
		t.Fatalf("ClientPlugins = %v", cps)
	}
	if n := len(srv.Plugins()); n != 1 {
		t.Fatalf("%d plugins registered, want 1", n)
	}
	if err := srv.Plugout("tag"); err != nil || !p.pluggedOut {
		t.Fatalf("Plugout: %v (called %v)", err, p.pluggedOut)
	}
	if err := srv.Plugout("tag"); !errors.Is(err, allspark.ErrNotFound) {
		t.Fatalf("second Plugout: %v", err)
	}
}

// An outgoing transform sees the value before encoding, so Broadcast and room
// writes must not encode it first: here only the transform makes it encodable.
func TestBroadcastLeavesEncodingToTransforms(t *testing.T) {
	type secret struct{ Ch chan int } // not encodable as JSON
	srv, base := startServer(t, allspark.Options{PingInterval: allspark.NoPing}, func(s *allspark.Server) {
		s.Transform(allspark.Outgoing, func(_ *allspark.Spark, p *allspark.Packet) (bool, error) {
			if _, ok := p.Data.(secret); ok {
				p.Data = "redacted"
			}
			return true, nil
		})
		s.OnConnection(func(_ context.Context, sp *allspark.Spark) error { return sp.Join("r") })
	})
	c := dial(t, base, "/primus", nil)
	waitFor(t, "joined", func() bool { return srv.Room("r").Len() == 1 })
	if n, err := srv.Broadcast(secret{}); err != nil || n != 1 {
		t.Fatalf("Broadcast: n=%d err=%v", n, err)
	}
	if n, err := srv.Room("r").Write(secret{}); err != nil || n != 1 {
		t.Fatalf("room write: n=%d err=%v", n, err)
	}
	c.expect(`"redacted"`)
	c.expect(`"redacted"`)
}
