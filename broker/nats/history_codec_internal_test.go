package nats

import (
	"testing"

	"github.com/allspark/allspark"
	natsgo "github.com/nats-io/nats.go"
)

// TestHistoryCodec: a position survives its header, and what no node
// writes is refused.
func TestHistoryCodec(t *testing.T) {
	for _, pos := range []allspark.Position{{Offset: 1, Epoch: "AbC12345"}, {Offset: 0, Epoch: "x"}, {Offset: 1<<64 - 1, Epoch: "Z"}} {
		got, err := parsePos(formatPos(pos))
		if err != nil || got != pos {
			t.Fatalf("parsePos(formatPos(%+v)) = %+v, %v", pos, got, err)
		}
	}
	for _, bad := range []string{"", " ", "1", "1 ", "01 e", "x e", "1 e e", "1  e", "18446744073709551616 e", "1 é", "-1 e"} {
		if p, err := parsePos(bad); err == nil {
			t.Fatalf("parsePos(%q) = %+v, want an error", bad, p)
		}
	}
	if _, ok, _ := headerPos(natsgo.Header{}); ok {
		t.Fatal("headerPos without the header reports a history message")
	}
	if _, ok, err := headerPos(natsgo.Header{posHeader: {"1 a", "2 a"}}); !ok || err == nil {
		t.Fatal("two positions accepted")
	}
	p := &allspark.Publication{Node: "n", Rooms: []string{"r"}, Payload: []byte("x"), Except: []string{"s"}}
	data := allspark.MarshalPublication(nil, p)
	got, err := decodeHistory(allspark.Position{Offset: 3, Epoch: "e"}, data)
	if err != nil || got.Pos.Offset != 3 || string(got.Payload) != "x" || got.Rooms[0] != "r" || got.Except[0] != "s" {
		t.Fatalf("decodeHistory = %+v, %v", got, err)
	}
	if _, err := decodeHistory(allspark.Position{Offset: 0, Epoch: "e"}, data); err == nil {
		t.Fatal("a marker decoded as a publication")
	}
	two := allspark.MarshalPublication(nil, &allspark.Publication{Rooms: []string{"a", "b"}})
	if _, err := decodeHistory(allspark.Position{Offset: 1, Epoch: "e"}, two); err == nil {
		t.Fatal("a publication for two rooms accepted")
	}
}

// FuzzHistoryMessage: whatever header value and data a peer sends on a
// room subject, decoding never panics, and what it accepts is one room's
// publication at the position the header names.
func FuzzHistoryMessage(f *testing.F) {
	f.Add("1 AbC12345", allspark.MarshalPublication(nil, &allspark.Publication{Node: "n", Rooms: []string{"r"}, Payload: []byte("x")}))
	f.Add("0 e", []byte{})
	f.Add("99999999999999999999 e", []byte("garbage"))
	f.Fuzz(func(t *testing.T, v string, data []byte) {
		pos, ok, err := headerPos(natsgo.Header{posHeader: {v}})
		if !ok {
			t.Fatal("header present but not seen")
		}
		if err != nil {
			return
		}
		if formatPos(pos) != v {
			t.Fatalf("position %q read as %+v", v, pos)
		}
		p, err := decodeHistory(pos, data)
		if err != nil {
			return
		}
		if p.Pos != pos || len(p.Rooms) != 1 || p.All || len(p.Sparks) != 0 {
			t.Fatalf("accepted %+v", p)
		}
	})
}
