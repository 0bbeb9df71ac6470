package transport_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/allspark/allspark/internal/transport"
)

// counting is a re-framing protocol that wraps a payload in brackets and
// counts its calls.
func counting(calls *atomic.Int32) *transport.Protocol {
	return &transport.Protocol{Name: "brackets", Slot: 1, Frame: func(m *transport.Message) ([]byte, bool) {
		calls.Add(1)
		out := make([]byte, 0, len(m.Payload)+2)
		out = append(append(append(out, '['), m.Payload...), ']')
		return out, m.Binary
	}}
}

func TestIdentityProtocolSendsThePayloadItself(t *testing.T) {
	payload := []byte(`"hi"`)
	m := transport.Message{Payload: payload, Shared: new(transport.Shared)}
	for _, p := range []*transport.Protocol{nil, {Name: "primus"}} {
		got, _ := m.FrameFor(p)
		if &got[0] != &payload[0] {
			t.Fatalf("%v: identity protocol copied the payload", p)
		}
	}
}

func TestSharedMessageIsFramedOncePerProtocol(t *testing.T) {
	var calls atomic.Int32
	p := counting(&calls)
	m := transport.Message{Payload: []byte(`"hi"`), Shared: new(transport.Shared)}
	const receivers = 64
	frames := make([][]byte, receivers)
	var wg sync.WaitGroup
	for i := range receivers {
		wg.Go(func() { frames[i], _ = m.FrameFor(p) })
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("framed %d times for %d receivers, want once", n, receivers)
	}
	for i, f := range frames {
		if string(f) != `["hi"]` || &f[0] != &frames[0][0] {
			t.Fatalf("receiver %d got %q, not the shared frame", i, f)
		}
	}
}

func TestUnsharedMessageIsFramedForItsReceiver(t *testing.T) {
	var calls atomic.Int32
	p := counting(&calls)
	m := transport.Message{Payload: []byte(`1`)}
	a, _ := m.FrameFor(p)
	b, _ := m.FrameFor(p)
	if calls.Load() != 2 || string(a) != "[1]" || string(b) != "[1]" {
		t.Fatalf("calls=%d a=%q b=%q", calls.Load(), a, b)
	}
}

func TestCachedFrameCostsNoAllocation(t *testing.T) {
	var calls atomic.Int32
	p := counting(&calls)
	m := transport.Message{Payload: []byte(`"hi"`), Shared: new(transport.Shared)}
	m.FrameFor(p)
	if n := testing.AllocsPerRun(100, func() { m.FrameFor(p) }); n != 0 {
		t.Fatalf("%v allocations per cached FrameFor, want 0", n)
	}
}

// BenchmarkFrameForShared is the per-receiver cost of a re-framing
// protocol on a broadcast: a cache hit.
func BenchmarkFrameForShared(b *testing.B) {
	var calls atomic.Int32
	p := counting(&calls)
	m := transport.Message{Payload: []byte(`{"room":"lobby","text":"hello everyone"}`), Shared: new(transport.Shared)}
	b.ReportAllocs()
	for range b.N {
		m.FrameFor(p)
	}
}
