package nats

import (
	"bytes"
	"errors"
	"testing"

	"github.com/allspark/allspark"
)

// The shared decoder's refusals are this package's ErrBadEnvelope.
func TestEnvelopeRefusesGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {'x'}, {kindProbe}, {kindMessage, 9}} {
		if _, err := decodeEnvelope(b); !errors.Is(err, ErrBadEnvelope) {
			t.Fatalf("decodeEnvelope(%q) = %v, want ErrBadEnvelope", b, err)
		}
	}
	if e, err := decodeEnvelope(appendProbe(nil, 9)); err != nil || e.Seq != 9 {
		t.Fatalf("probe: %+v %v", e, err)
	}
}

func BenchmarkAppendPublication(b *testing.B) {
	p := &allspark.Publication{Node: "node-1", Rooms: []string{"room"}, Payload: bytes.Repeat([]byte("x"), 256)}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendPublication(buf[:0], p)
	}
}
