package redis

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/allspark/allspark"
)

func TestStampRoundTrip(t *testing.T) {
	p := &allspark.Publication{Node: "n1", Namespace: "/chat", Rooms: []string{"\x00/chat\x00room"}, Except: []string{"s1"}, Payload: []byte(`{"a":1}`), Binary: true, Value: []byte{0x81}}
	pos := allspark.Position{Offset: 18446744073709551615, Epoch: "AbC123xyz0"}
	got, err := decodeStamped(appendStamped(nil, pos, p))
	if err != nil {
		t.Fatal(err)
	}
	want := *p
	want.Pos = pos
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("round trip: %+v, want %+v", got, &want)
	}
}

// What the Lua script builds (history_publish.lua: 'h' .. offset .. ' ' ..
// epoch .. ' ' .. publication) is what appendStamped builds.
func TestStampMatchesScript(t *testing.T) {
	p := &allspark.Publication{Node: "n", Rooms: []string{"r"}, Payload: []byte("x")}
	lua := append([]byte("h42 EPOCH1 "), allspark.MarshalPublication(nil, p)...)
	if got := appendStamped(nil, allspark.Position{Offset: 42, Epoch: "EPOCH1"}, p); !bytes.Equal(got, lua) {
		t.Fatalf("appendStamped = %q, the script publishes %q", got, lua)
	}
}

func TestStampRejects(t *testing.T) {
	good := allspark.MarshalPublication(nil, &allspark.Publication{Node: "n", Rooms: []string{"r"}})
	withPos := allspark.MarshalPublication(nil, &allspark.Publication{Node: "n", Rooms: []string{"r"}, Pos: allspark.Position{Offset: 1, Epoch: "e"}})
	two := allspark.MarshalPublication(nil, &allspark.Publication{Node: "n", Rooms: []string{"r", "s"}})
	all := allspark.MarshalPublication(nil, &allspark.Publication{Node: "n", All: true})
	sparks := allspark.MarshalPublication(nil, &allspark.Publication{Node: "n", Rooms: []string{"r"}, Sparks: []string{"s"}})
	long := string(bytes.Repeat([]byte("a"), maxEpoch+1))
	for name, b := range map[string][]byte{
		"empty":            nil,
		"other kind":       append([]byte("p1 e "), good...),
		"no offset":        append([]byte("h e "), good...),
		"zero offset":      append([]byte("h0 e "), good...),
		"leading zero":     append([]byte("h01 e "), good...),
		"offset overflow":  append([]byte("h18446744073709551616 e "), good...),
		"signed offset":    append([]byte("h-1 e "), good...),
		"offset only":      []byte("h12"),
		"no epoch":         append([]byte("h1  "), good...),
		"epoch bad byte":   append([]byte("h1 e-1 "), good...),
		"epoch too long":   append([]byte("h1 "+long+" "), good...),
		"epoch unended":    []byte("h1 abc"),
		"bad publication":  []byte("h1 e \x09"),
		"position inside":  append([]byte("h1 e "), withPos...),
		"two rooms":        append([]byte("h1 e "), two...),
		"all":              append([]byte("h1 e "), all...),
		"sparks":           append([]byte("h1 e "), sparks...),
		"tab for a space":  append([]byte("h1\te "), good...),
		"no publication":   []byte("h1 e "),
		"offset not ended": []byte("h123456789012345678901234567890"),
	} {
		if p, err := decodeStamped(b); !errors.Is(err, errBadStamp) {
			t.Errorf("%s: decoded %+v, %v", name, p, err)
		}
	}
}

// FuzzDecodeStamped: any bytes decode or fail without panicking, and what
// decodes re-encodes to bytes that decode to the same publication.
func FuzzDecodeStamped(f *testing.F) {
	p := &allspark.Publication{Node: "n", Rooms: []string{"r"}, Except: []string{"x"}, Payload: []byte("hi")}
	f.Add(appendStamped(nil, allspark.Position{Offset: 1, Epoch: "abcdefghij"}, p))
	f.Add(appendStamped(nil, allspark.Position{Offset: 1 << 63, Epoch: "Z"}, p))
	f.Add([]byte("h99999999999999999999 e "))
	f.Add([]byte("h1 e \x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeStamped(b)
		if err != nil {
			return
		}
		if p.Pos.Offset == 0 || p.Pos.Epoch == "" || len(p.Rooms) != 1 {
			t.Fatalf("decoded without a position or one room: %+v", p)
		}
		pos := p.Pos
		q := *p
		q.Pos = allspark.Position{}
		again, err := decodeStamped(appendStamped(nil, pos, &q))
		if err != nil {
			t.Fatalf("re-encoding %+v does not decode: %v", p, err)
		}
		if !reflect.DeepEqual(normalPub(p), normalPub(again)) {
			t.Fatalf("round trip changed %+v to %+v", p, again)
		}
	})
}

func normalPub(p *allspark.Publication) allspark.Publication {
	q := *p
	if len(q.Payload) == 0 {
		q.Payload = nil
	}
	return q
}
