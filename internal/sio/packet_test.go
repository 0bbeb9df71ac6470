package sio

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeReadsEveryHeaderPart(t *testing.T) {
	cases := []struct {
		in   string
		want Packet
	}{
		{`0`, Packet{Type: Connect, Namespace: "/"}},
		{`0/admin,`, Packet{Type: Connect, Namespace: "/admin"}},
		{`0/admin,{"token":"x"}`, Packet{Type: Connect, Namespace: "/admin", Data: []byte(`{"token":"x"}`)}},
		{`1`, Packet{Type: Disconnect, Namespace: "/"}},
		{`1/admin,`, Packet{Type: Disconnect, Namespace: "/admin"}},
		{`2["a",1]`, Packet{Type: Event, Namespace: "/", Data: []byte(`["a",1]`)}},
		{`212["a"]`, Packet{Type: Event, Namespace: "/", ID: 12, HasID: true, Data: []byte(`["a"]`)}},
		{`2/x,7["a"]`, Packet{Type: Event, Namespace: "/x", ID: 7, HasID: true, Data: []byte(`["a"]`)}},
		{`30[]`, Packet{Type: Ack, Namespace: "/", ID: 0, HasID: true, Data: []byte(`[]`)}},
		{`51-["a",{"_placeholder":true,"num":0}]`, Packet{Type: BinaryEvent, Namespace: "/", Attachments: 1, Data: []byte(`["a",{"_placeholder":true,"num":0}]`)}},
		{`62-/x,9[]`, Packet{Type: BinaryAck, Namespace: "/x", Attachments: 2, ID: 9, HasID: true, Data: []byte(`[]`)}},
		{`0/nodata`, Packet{Type: Connect, Namespace: "/nodata"}},
	}
	for _, c := range cases {
		got, err := Decode([]byte(c.in), 10)
		if err != nil {
			t.Errorf("Decode(%q): %v", c.in, err)
			continue
		}
		if got.Type != c.want.Type || got.Namespace != c.want.Namespace || got.ID != c.want.ID || got.HasID != c.want.HasID ||
			got.Attachments != c.want.Attachments || string(got.Data) != string(c.want.Data) {
			t.Errorf("Decode(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

func TestDecodeRefusesMalformedPackets(t *testing.T) {
	cases := map[string]error{
		``:                              ErrUnknownType,
		`7`:                             ErrUnknownType,
		`x`:                             ErrUnknownType,
		`5["a"]`:                        ErrBadAttachments,
		`5-["a"]`:                       ErrBadAttachments,
		`5x-["a"]`:                      ErrBadAttachments,
		`511-["a"]`:                     ErrTooManyAttachments,
		`599999-[]`:                     ErrBadAttachments,
		`2["a"`:                         ErrBadJSON,
		`21234567890123456["a"]`:        ErrBadID,
		`2/` + strings.Repeat("n", 300): ErrBadNamespace,
	}
	for in, want := range cases {
		if _, err := Decode([]byte(in), 10); !errors.Is(err, want) {
			t.Errorf("Decode(%q) = %v, want %v", in, err, want)
		}
	}
}

func TestAppendHeaderRoundTrips(t *testing.T) {
	for _, c := range []struct {
		t     Type
		atts  int
		nsp   string
		id    uint64
		hasID bool
		want  string
	}{
		{Event, 0, "/", 0, false, "2"},
		{Event, 0, "/chat", 5, true, "2/chat,5"},
		{Ack, 0, "/", 0, true, "30"},
		{BinaryEvent, 2, "/", 3, true, "52-3"},
		{BinaryAck, 1, "/a", 4, true, "61-/a,4"},
		{ConnectError, 0, "/a", 0, false, "4/a,"},
	} {
		if got := string(AppendHeader(nil, c.t, c.atts, c.nsp, c.id, c.hasID)); got != c.want {
			t.Errorf("AppendHeader = %q, want %q", got, c.want)
		}
	}
}

func TestWithNamespaceInsertsAfterTheTypeAndCount(t *testing.T) {
	cases := map[string]string{
		`2["m",1]`:    `2/a,["m",1]`,
		`27["m"]`:     `2/a,7["m"]`,
		`1`:           `1/a,`,
		`51-["m",{}]`: `51-/a,["m",{}]`,
		`63-4[]`:      `63-/a,4[]`,
	}
	for in, want := range cases {
		if got := string(withNamespace([]byte(in), "/a")); got != want {
			t.Errorf("withNamespace(%q) = %q, want %q", in, got, want)
		}
		if got := string(withNamespace([]byte(in), "/")); got != in {
			t.Errorf("withNamespace(%q, /) = %q", in, got)
		}
	}
}
