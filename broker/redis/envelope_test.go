package redis

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/allspark/allspark"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	p := &allspark.Publication{Node: "n1", Namespace: "/chat", Rooms: []string{"a", "b\x00c"}, Sparks: []string{"s"}, Except: []string{"x"}, Payload: []byte(`"hi"`), Binary: true}
	e, err := decodeEnvelope(appendPublication(nil, p))
	if err != nil || e.kind != kindPublication || !reflect.DeepEqual(e.pub, p) {
		t.Fatalf("publication: %+v, %v", e, err)
	}
	e, err = decodeEnvelope(appendMessage(nil, "from", "to", []byte("body")))
	if err != nil || e.kind != kindMessage || e.from != "from" || e.to != "to" || string(e.msg) != "body" {
		t.Fatalf("message: %+v, %v", e, err)
	}
	e, err = decodeEnvelope(appendMessage(nil, "from", "", nil))
	if err != nil || e.to != "" || len(e.msg) != 0 {
		t.Fatalf("broadcast message: %+v, %v", e, err)
	}
	e, err = decodeEnvelope(appendProbe(nil, 42))
	if err != nil || e.kind != kindProbe || e.seq != 42 {
		t.Fatalf("probe: %+v, %v", e, err)
	}
}

func TestEnvelopeRejects(t *testing.T) {
	long := appendMessage(nil, string(make([]byte, maxNodeName+1)), "", nil)
	for name, b := range map[string][]byte{
		"empty":          nil,
		"unknown kind":   []byte("zabc"),
		"bad pub":        {kindPublication, 9},
		"short name":     {kindMessage, 5, 'a'},
		"no to":          {kindMessage, 1, 'a'},
		"huge length":    {kindMessage, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"name too long":  long,
		"short probe":    {kindProbe, 1, 2},
		"long probe":     append(appendProbe(nil, 1), 0),
		"varint overrun": {kindMessage, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
	} {
		if _, err := decodeEnvelope(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// FuzzDecodeEnvelope: any bytes decode or fail without panicking, and what
// decodes re-encodes to bytes that decode to the same envelope.
func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(appendPublication(nil, &allspark.Publication{Node: "n", Rooms: []string{"r"}, Payload: []byte("x")}))
	f.Add(appendPublication(nil, &allspark.Publication{Node: "n", All: true}))
	f.Add(appendMessage(nil, "a", "b", []byte("m")))
	f.Add(appendProbe(nil, 7))
	f.Add([]byte{kindMessage, 0xff, 0x01})
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
			t.Fatalf("decoded unknown kind %q", e.kind)
		}
		e2, err := decodeEnvelope(again)
		if err != nil {
			t.Fatalf("re-encoding %x does not decode: %v", again, err)
		}
		if e2.kind != e.kind || e2.from != e.from || e2.to != e.to || !bytes.Equal(e2.msg, e.msg) || e2.seq != e.seq {
			t.Fatalf("round trip changed %+v to %+v", e, e2)
		}
		if e.pub != nil && !reflect.DeepEqual(normal(e.pub), normal(e2.pub)) {
			t.Fatalf("publication round trip changed %+v to %+v", e.pub, e2.pub)
		}
	})
}

func normal(p *allspark.Publication) allspark.Publication {
	q := *p
	if len(q.Payload) == 0 {
		q.Payload = nil
	}
	return q
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
