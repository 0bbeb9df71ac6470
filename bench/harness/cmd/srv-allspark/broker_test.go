package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allspark/allspark"
)

func TestOpenBrokerSchemes(t *testing.T) {
	if b, c, err := openBroker(""); b != nil || c != nil || err != nil {
		t.Fatalf("empty URL: %v %v %v, want the default memory broker", b, c, err)
	}
	if _, _, err := openBroker("kafka://127.0.0.1:9092"); !errors.Is(err, errBrokerURL) {
		t.Fatalf("err = %v, want errBrokerURL", err)
	}
	// nats:// is parsed by broker/nats (a bad option is its error, not ours)
	// and an unreachable server fails at once.
	if _, _, err := openBroker("nats://127.0.0.1:1?bogus=1"); err == nil || errors.Is(err, errBrokerURL) {
		t.Fatalf("bad nats URL: %v", err)
	}
	if _, _, err := openBroker("nats://127.0.0.1:1"); err == nil {
		t.Fatal("unreachable nats: no error")
	}
}

// flaky is a broker that turns healthy after a few Health calls.
type flaky struct {
	allspark.Broker
	calls atomic.Int32
	after int32
}

func (f *flaky) Health() error {
	if f.calls.Add(1) <= f.after {
		return errors.New("connecting")
	}
	return nil
}

func TestWaitHealthy(t *testing.T) {
	f := &flaky{after: 3}
	if err := waitHealthy(context.Background(), f, 5*time.Second); err != nil || f.calls.Load() != 4 {
		t.Fatalf("err = %v after %d calls", err, f.calls.Load())
	}
	never := &flaky{after: 1 << 30}
	if err := waitHealthy(context.Background(), never, 100*time.Millisecond); err == nil {
		t.Fatal("a broker that never connects must fail the start")
	}
}

func TestHistoryFlagKeepsHistoryOnEveryRoom(t *testing.T) {
	if o := (runOptions{}).options(nil); len(o.History.Rooms) != 0 || o.History.Policy != nil || o.Recovery.Timeout != 0 {
		t.Fatalf("no -history: %+v", o.History)
	}
	o := runOptions{history: 500, historyTTL: time.Minute}.options(nil)
	if len(o.History.Rooms) != 1 {
		t.Fatalf("%+v", o.History)
	}
	r := o.History.Rooms[0]
	if r.Pattern != "*" || r.Size != 500 || r.TTL != time.Minute {
		t.Fatalf("rule %+v", r)
	}
}
