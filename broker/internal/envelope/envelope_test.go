package envelope

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/allspark/allspark"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	p := &allspark.Publication{Node: "n1", Namespace: "/chat", Rooms: []string{"a", "b\x00c"}, Sparks: []string{"s"}, Except: []string{"x"}, Payload: []byte(`"hi"`), Binary: true}
	e, err := Decode(AppendPublication(nil, p))
	if err != nil || e.Kind != Publication || !reflect.DeepEqual(e.Pub, p) {
		t.Fatalf("publication: %+v, %v", e, err)
	}
	e, err = Decode(AppendMessage(nil, "from", "to", []byte("body")))
	if err != nil || e.Kind != Message || e.From != "from" || e.To != "to" || string(e.Msg) != "body" {
		t.Fatalf("message: %+v, %v", e, err)
	}
	e, err = Decode(AppendMessage(nil, "from", "", nil))
	if err != nil || e.To != "" || len(e.Msg) != 0 {
		t.Fatalf("broadcast message: %+v, %v", e, err)
	}
	e, err = Decode(AppendProbe(nil, 42))
	if err != nil || e.Kind != Probe || e.Seq != 42 {
		t.Fatalf("probe: %+v, %v", e, err)
	}
}

func TestEnvelopeRejects(t *testing.T) {
	long := AppendMessage(nil, string(make([]byte, MaxNodeName+1)), "", nil)
	for name, b := range map[string][]byte{
		"empty":          nil,
		"unknown kind":   []byte("zabc"),
		"bad pub":        {Publication, 9},
		"short name":     {Message, 5, 'a'},
		"no to":          {Message, 1, 'a'},
		"huge length":    {Message, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"name too long":  long,
		"short probe":    {Probe, 1, 2},
		"long probe":     append(AppendProbe(nil, 1), 0),
		"varint overrun": {Message, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01},
	} {
		if _, err := Decode(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// FuzzDecode: any bytes decode or fail without panicking, and what
// decodes re-encodes to bytes that decode to the same envelope.
func FuzzDecode(f *testing.F) {
	f.Add(AppendPublication(nil, &allspark.Publication{Node: "n", Rooms: []string{"r"}, Payload: []byte("x")}))
	f.Add(AppendPublication(nil, &allspark.Publication{Node: "n", All: true}))
	f.Add(AppendMessage(nil, "a", "b", []byte("m")))
	f.Add(AppendProbe(nil, 7))
	f.Add([]byte{Message, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		var again []byte
		switch e.Kind {
		case Publication:
			again = AppendPublication(nil, e.Pub)
		case Message:
			again = AppendMessage(nil, e.From, e.To, e.Msg)
		case Probe:
			again = AppendProbe(nil, e.Seq)
		default:
			t.Fatalf("decoded unknown kind %q", e.Kind)
		}
		e2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoding %x does not decode: %v", again, err)
		}
		if e2.Kind != e.Kind || e2.From != e.From || e2.To != e.To || !bytes.Equal(e2.Msg, e.Msg) || e2.Seq != e.Seq {
			t.Fatalf("round trip changed %+v to %+v", e, e2)
		}
		if e.Pub != nil && !reflect.DeepEqual(normal(e.Pub), normal(e2.Pub)) {
			t.Fatalf("publication round trip changed %+v to %+v", e.Pub, e2.Pub)
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
