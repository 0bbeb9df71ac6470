package hostile_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

// maxGrowthOver samples the heap for d and returns the largest growth over
// base: a server that inflates or buffers in the background is caught
// whenever it peaks.
func maxGrowthOver(base uint64, d time.Duration) int64 {
	var peak int64
	deadline := time.Now().Add(d)
	for {
		if g := heapGrowth(base); g > peak {
			peak = g
		}
		if time.Now().After(deadline) {
			return peak
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// assertStoppedReading checks, through Stats.BytesIn (payload bytes the
// server has taken off the socket), that the server applied back-pressure:
// it stopped reading long before the client's flood was through.
func assertStoppedReading(t testing.TB, in uint64, total int) {
	t.Helper()
	if in > uint64(total)/2 {
		t.Errorf("the server took in %.1f of %.1f MiB while it could not deliver them: it never stopped reading",
			mib(int64(in)), mib(int64(total)))
	}
}

// TestFrameHeaderAnnouncingHugePayload: connections that send one frame
// header announcing 10 MiB and then nothing must cost the server what
// arrived, not what the header claims (issue 11 §1).
func TestFrameHeaderAnnouncingHugePayload(t *testing.T) {
	const (
		conns    = 64
		declared = 10 << 20 // = DefaultMaxLength: allowed by the limit
		limit    = 96 * MiB
	)
	s := startServer(t, allspark.Options{}, nil)
	base := heap()
	peers := make([]*peer, 0, conns)
	for range conns {
		p := mustDial(t, s.Addr, dialOpts{Query: hostileQuery})
		hdr := appendHeader(nil, 0x80|opText, declared, nil)
		if err := p.Write(hdr); err != nil {
			t.Fatal(err)
		}
		peers = append(peers, p)
	}
	if !waitFor(5*time.Second, func() bool { return s.Len() == conns }) {
		t.Fatalf("Len = %d, want %d", s.Len(), conns)
	}
	// gws allocates right after parsing the header; give the server a
	// moment to have read every header, catching the peak.
	g := maxGrowthOver(base, time.Second)
	t.Logf("%d headers of %d MiB: heap +%.1f MiB (limit %.0f MiB)", conns, declared/MiB, mib(g), mib(limit))
	if g > limit {
		t.Errorf("heap grew %.1f MiB for %d headers announcing %d MiB each and no payload, want < %.0f MiB: memory follows what headers claim",
			mib(g), conns, declared/MiB, mib(limit))
	}
	// The connections are held open (the server waits for the payload),
	// and others are served meanwhile.
	assertServes(t, s)
	for _, p := range peers {
		p.Close()
	}
	if !waitFor(5*time.Second, func() bool { return s.Len() == 0 }) {
		t.Errorf("Len = %d after the peers went away, want 0", s.Len())
	}
}

// floodDuringHook floods data while a connection hook blocks, then releases
// it and checks every message arrives in order (issue 11 §2).
func floodDuringHook(t *testing.T, compressed bool) {
	const limit = 8 * MiB
	msgs, size := 4096, 4<<10 // 16 MiB
	if compressed {
		msgs, size = 2048, 16<<10 // 32 MiB once inflated, ~100 KiB on the wire
	}
	total := msgs * size
	release := make(chan struct{})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	var order orderCounter
	s := startServer(t, allspark.Options{Compression: compressed}, func(srv *allspark.Server) {
		srv.OnConnection(func(ctx context.Context, sp *allspark.Spark) error {
			if !isHostile(sp) {
				return nil
			}
			sp.OnData(order.see)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})
	})
	p := mustDial(t, s.Addr, dialOpts{Query: hostileQuery, Deflate: compressed})
	if compressed && p.Header.Get("Sec-WebSocket-Extensions") == "" {
		t.Fatal("server did not accept permessage-deflate")
	}
	base := heap()
	i := 0
	z := newDeflater()
	f := flood(p, func() []byte {
		if i == msgs {
			return nil
		}
		m := seqMsg(i, size)
		i++
		if compressed {
			return appendFrame(nil, true, true, opBinary, z.compress(m))
		}
		return appendFrame(nil, true, false, opBinary, m)
	})
	f.settle(500*time.Millisecond, 20*time.Second)
	g := maxGrowthOver(base, time.Second)
	in := s.Stats().BytesIn
	t.Logf("flood of %d MiB (%.2f MiB on the wire) behind a blocked hook: server took in %.1f MiB, heap +%.1f MiB",
		total/MiB, mib(f.written.Load()), mib(int64(in)), mib(g))
	if g > limit {
		t.Errorf("heap grew %.1f MiB while a hook blocked and the client sent %d MiB, want < %.0f MiB: data queued without bound",
			mib(g), total/MiB, mib(limit))
	}
	assertStoppedReading(t, in, total)
	close(release)
	released = true
	if err := f.wait(20 * time.Second); err != nil {
		t.Fatalf("flood after release: %v", err)
	}
	order.check(t, msgs)
	assertServes(t, s)
}

func TestFloodDuringConnectionHook(t *testing.T) { floodDuringHook(t, false) }

func TestFloodDuringConnectionHookCompressed(t *testing.T) { floodDuringHook(t, true) }

// TestFloodBehindBlockedEventHandler: plain data behind a blocked event
// handler waits in a bounded queue, as docs/events.md promises (issue 11 §3).
func TestFloodBehindBlockedEventHandler(t *testing.T) {
	const (
		msgs, size = 4096, 4 << 10 // 16 MiB
		limit      = 8 * MiB
	)
	release := make(chan struct{})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	var order orderCounter
	var slowRan atomic.Bool
	s := startServer(t, allspark.Options{}, func(srv *allspark.Server) {
		srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			if isHostile(sp) {
				sp.OnData(order.see)
			}
			return nil
		})
		if err := srv.On("slow", func(ctx context.Context, _ *allspark.Event) (any, error) {
			slowRan.Store(true)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	p := mustDial(t, s.Addr, dialOpts{Query: hostileQuery})
	if err := p.WriteText(`{"allspark":1,"event":"slow","args":[]}`); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, slowRan.Load) {
		t.Fatal("the slow handler did not start")
	}
	base := heap()
	i := 0
	f := flood(p, func() []byte {
		if i == msgs {
			return nil
		}
		i++
		return appendFrame(nil, true, false, opBinary, seqMsg(i-1, size))
	})
	f.settle(500*time.Millisecond, 20*time.Second)
	g := maxGrowthOver(base, time.Second)
	in := s.Stats().BytesIn
	t.Logf("flood of %d MiB behind a blocked handler: server took in %.1f MiB, heap +%.1f MiB",
		msgs*size/MiB, mib(int64(in)), mib(g))
	if g > limit {
		t.Errorf("heap grew %.1f MiB behind a blocked event handler, want < %.0f MiB: data queued past the 256-event bound",
			mib(g), mib(limit))
	}
	assertStoppedReading(t, in, msgs*size)
	close(release)
	released = true
	if err := f.wait(20 * time.Second); err != nil {
		t.Fatalf("flood after release: %v", err)
	}
	order.check(t, msgs)
	assertServes(t, s)
}

// TestFloodOfTinyFrames: 100,000 one-byte text frames with a ping every
// thousand: the server keeps up, answers every ping, holds nothing, and
// serves others meanwhile.
func TestFloodOfTinyFrames(t *testing.T) {
	const (
		frames    = 100_000
		pingEvery = 1000
		limit     = 16 * MiB
	)
	var got atomic.Int64
	s := startServer(t, allspark.Options{}, func(srv *allspark.Server) {
		srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
			if isHostile(sp) {
				sp.OnData(func(any) { got.Add(1) })
			}
			return nil
		})
	})
	p := mustDial(t, s.Addr, dialOpts{Query: hostileQuery})
	base := heap()
	i := 0
	f := flood(p, func() []byte {
		switch {
		case i == frames:
			return nil
		case i%pingEvery == 0:
			i++
			return append(appendFrame(nil, true, false, opPing, binary.BigEndian.AppendUint32(nil, uint32(i))),
				appendFrame(nil, true, false, opText, []byte("1"))...)
		}
		i++
		return appendFrame(nil, true, false, opText, []byte("1"))
	})
	assertServes(t, s) // while the flood runs
	if err := f.wait(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.WriteFrame(opPing, []byte("last")); err != nil {
		t.Fatal(err)
	}
	pongs := 0
	for {
		fr, err := p.ReadFrame(10 * time.Second)
		if err != nil {
			t.Fatalf("after %d pongs: %v", pongs, err)
		}
		if fr.Op != opPong {
			t.Fatalf("server sent %v during a flood of tiny frames", fr)
		}
		pongs++
		if string(fr.Payload) == "last" {
			break
		}
	}
	if want := frames/pingEvery + 1; pongs != want {
		t.Errorf("pongs = %d, want %d", pongs, want)
	}
	if !waitFor(20*time.Second, func() bool { return got.Load() == frames }) {
		t.Errorf("OnData ran %d times, want %d", got.Load(), frames)
	}
	assertHeapBelow(t, base, limit, 0, fmt.Sprintf("%d tiny frames", frames))
	assertServes(t, s)
}
