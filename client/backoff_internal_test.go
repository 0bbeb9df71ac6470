package client

import (
	"math"
	"testing"
	"time"
)

func TestBackoffFormula(t *testing.T) {
	o := ReconnectOptions{Min: 500 * time.Millisecond, Factor: 2}
	// Attempt 1 waits exactly Min, as Primus's recovery does.
	for _, rnd := range []float64{0, 0.5, 0.999} {
		if d := backoff(o, 1, rnd); d != o.Min {
			t.Fatalf("delay(1, %v) = %v, want Min", rnd, d)
		}
	}
	// Attempt n: round((rnd+1)·Min·Factor^(n−1)).
	for n := 2; n <= 10; n++ {
		base := float64(o.Min) * math.Pow(2, float64(n-1))
		if d := backoff(o, n, 0); d != time.Duration(base) {
			t.Fatalf("delay(%d, 0) = %v, want %v", n, d, time.Duration(base))
		}
		if d := backoff(o, n, 0.5); d != time.Duration(1.5*base) {
			t.Fatalf("delay(%d, 0.5) = %v, want %v", n, d, time.Duration(1.5*base))
		}
	}
	// Max caps; huge attempts do not overflow.
	o.Max = 3 * time.Second
	if d := backoff(o, 4, 0.9); d != o.Max {
		t.Fatalf("capped delay = %v, want %v", d, o.Max)
	}
	o.Max = 0
	if d := backoff(o, 500, 0.9); d <= 0 {
		t.Fatalf("delay(500) overflowed to %v", d)
	}
}

func TestDefaults(t *testing.T) {
	o := Options{}.withDefaults()
	r := o.Reconnect
	if r.Min != 500*time.Millisecond || r.Max != 0 || r.Retries != 10 || r.Factor != 2 || r.Timeout != 30*time.Second {
		t.Fatalf("reconnect defaults = %+v", r)
	}
	if o.Timeout != 10*time.Second || o.Strategy != StrategyDisconnect|StrategyOnline|StrategyTimeout || o.PingTimeout != 0 {
		t.Fatalf("defaults = %+v", o.Options)
	}
	if o.Parser.Name() != "json" || o.QueueSize != DefaultQueueSize {
		t.Fatalf("parser %q, queue %d", o.Parser.Name(), o.QueueSize)
	}
	if o.MaxQueuedEvents != 256 || o.MaxQueuedBytes != 4<<20 || o.MaxPendingAcks != 1024 {
		t.Fatalf("flow-control defaults: events %d, bytes %d, acks %d", o.MaxQueuedEvents, o.MaxQueuedBytes, o.MaxPendingAcks)
	}
	if StrategyNone.has(StrategyDisconnect) || (StrategyNone | StrategyDisconnect).has(StrategyDisconnect) {
		t.Fatal("StrategyNone must disable every strategy")
	}
}
