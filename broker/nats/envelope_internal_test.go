package nats

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/allspark/allspark"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	pub := &allspark.Publication{
		Node: "n1", Namespace: "/chat", Rooms: []string{"a.b", "*"}, Sparks: []string{"s1"},
		Except: []string{"s2"}, Payload: []byte(`{"x":1}`), Binary: true,
	}
	e, err := decodeEnvelope(appendPublication(nil, pub))
	if err != nil || e.kind != kindPublication {
		t.Fatalf("publication: %v %c", err, e.kind)
	}
	if !reflect.DeepEqual(e.pub, pub) {
		t.Fatalf("publication: got %+v, want %+v", e.pub, pub)
	}

	e, err = decodeEnvelope(appendMessage(nil, "from.node", "to node", []byte("hello")))
	if err != nil || e.kind != kindMessage || e.from != "from.node" || e.to != "to node" || string(e.msg) != "hello" {
		t.Fatalf("message: %v %+v", err, e)
	}
	e, err = decodeEnvelope(appendMessage(nil, "f", "", nil))
	if err != nil || e.to != "" || len(e.msg) != 0 {
		t.Fatalf("broadcast message: %v %+v", err, e)
	}

	e, err = decodeEnvelope(appendProbe(nil, 1<<40))
	if err != nil || e.kind != kindProbe || e.seq != 1<<40 {
		t.Fatalf("probe: %v %+v", err, e)
	}
}

func TestEnvelopeRefusesGarbage(t *testing.T) {
	for _, b := range [][]byte{
		nil, {}, {'x'}, {'p'}, {'p', 9, 0}, {'m'}, {'m', 5, 'a'}, {'m', 1, 'a', 7},
		{'k'}, {'k', 0x80}, {'k', 1, 2}, {'m', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	} {
		if _, err := decodeEnvelope(b); !errors.Is(err, ErrBadEnvelope) {
			t.Fatalf("decodeEnvelope(%q) = %v, want ErrBadEnvelope", b, err)
		}
	}
}

// FuzzDecodeEnvelope: the decoder never panics, and whatever it accepts
// encodes back to the same bytes.
func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(appendPublication(nil, &allspark.Publication{Node: "a", All: true, Payload: []byte("x")}))
	f.Add(appendPublication(nil, &allspark.Publication{Node: "a", Rooms: []string{"r"}, Sparks: []string{"s"}}))
	f.Add(appendMessage(nil, "a", "b", []byte("m")))
	f.Add(appendMessage(nil, "", "", nil))
	f.Add(appendProbe(nil, 7))
	f.Add([]byte{'m', 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEnvelope(b)
		if err != nil {
			return
		}
		var again []byte
		switch e.kind {
		case kindPublication:
			again = appendPublication(nil, e.pub)
		case kindMessage:
			again = appendMessage(nil, e.from, e.to, e.msg)
		case kindProbe:
			again = appendProbe(nil, e.seq)
		default:
			t.Fatalf("accepted kind %q", e.kind)
		}
		// Uvarints have several encodings of one value; the decoded value
		// must survive a second trip unchanged.
		e2, err := decodeEnvelope(again)
		if err != nil {
			t.Fatalf("re-encoded envelope refused: %v", err)
		}
		if e.kind == kindPublication {
			if !reflect.DeepEqual(normPub(e.pub), normPub(e2.pub)) {
				t.Fatalf("publication changed: %+v vs %+v", e.pub, e2.pub)
			}
		} else if e.from != e2.from || e.to != e2.to || !bytes.Equal(e.msg, e2.msg) || e.seq != e2.seq {
			t.Fatalf("envelope changed: %+v vs %+v", e, e2)
		}
	})
}

func normPub(p *allspark.Publication) allspark.Publication {
	q := *p
	if len(q.Payload) == 0 {
		q.Payload = nil
	}
	return q
}

func BenchmarkAppendPublication(b *testing.B) {
	p := &allspark.Publication{Node: "node-1", Rooms: []string{"room"}, Payload: bytes.Repeat([]byte("x"), 256)}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendPublication(buf[:0], p)
	}
}
