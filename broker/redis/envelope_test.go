package redis

import (
	"errors"
	"testing"
)

// The shared decoder's refusals are this package's errBadEnvelope.
func TestEnvelopeRefusesGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {'x'}, {kindProbe}, {kindMessage, 9}} {
		if _, err := decodeEnvelope(b); !errors.Is(err, errBadEnvelope) {
			t.Fatalf("decodeEnvelope(%q) = %v, want errBadEnvelope", b, err)
		}
	}
	if e, err := decodeEnvelope(appendMessage(nil, "a", "b", []byte("m"))); err != nil || e.From != "a" || string(e.Msg) != "m" {
		t.Fatalf("message: %+v %v", e, err)
	}
}

func TestTopics(t *testing.T) {
	for _, cluster := range []bool{false, true} {
		tp := newTopics("pfx", cluster)
		for _, tc := range []struct {
			kind   byte
			prefix string
			name   string
		}{{'r', tp.room, "room with spaces:and{braces}"}, {'n', tp.node, "node-1"}, {'k', tp.probe, "abc"}, {'r', tp.room, ""}} {
			ch := tp.name(tc.prefix, tc.name)
			kind, name, ok := tp.parse(ch)
			if !ok || kind != tc.kind || name != tc.name {
				t.Errorf("cluster=%v: parse(%q) = %q %q %v", cluster, ch, kind, name, ok)
			}
		}
		if kind, _, ok := tp.parse("pfx:all"); !ok || kind != 'a' {
			t.Errorf("cluster=%v: pfx:all not the broadcast channel", cluster)
		}
		if _, _, ok := tp.parse("other:r:x"); ok {
			t.Errorf("cluster=%v: another prefix's channel parsed", cluster)
		}
	}
	if tp := newTopics("p", true); tp.name(tp.room, "room") != "p:r:{room}" {
		t.Errorf("cluster room channel = %q, want a hash tag", tp.name(tp.room, "room"))
	}
}

func TestInboundBound(t *testing.T) {
	q := newInbound(3)
	for i := range 3 {
		if !q.push(item{from: string(rune('a' + i))}) {
			t.Fatalf("push %d refused below the limit", i)
		}
	}
	if q.push(item{from: "d"}) {
		t.Fatal("push past the limit accepted")
	}
	if q.len() != 3 {
		t.Fatalf("len = %d", q.len())
	}
	got := q.take(nil, nil)
	if len(got) != 3 || got[0].from != "a" || got[2].from != "c" {
		t.Fatalf("take = %+v", got)
	}
	if !q.push(item{from: "e"}) || q.len() != 1 {
		t.Fatal("room not given back after take")
	}
	stop := make(chan struct{})
	close(stop)
	q.close()
	if q.take(nil, stop) != nil || !q.push(item{}) || q.len() != 0 {
		t.Fatal("closed queue still holds or hands out items")
	}
}
