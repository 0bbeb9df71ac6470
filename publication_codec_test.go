package allspark_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/allspark/allspark"
)

func TestPublicationRoundTrip(t *testing.T) {
	cases := []*allspark.Publication{
		{Node: "a", Payload: []byte(`"hi"`)},
		{Node: "node-1", Namespace: "/chat", All: true, Payload: []byte{0, 1, 2}, Binary: true},
		{Node: "n", Rooms: []string{"lobby", "\x00/x\x00r"}, Sparks: []string{"s1"}, Except: []string{"s2", "s3"}, Payload: []byte(`{"a":1}`)},
		{Node: "v", Rooms: []string{"r"}, Payload: []byte(`"AQI="`), Value: []byte{0xc4, 2, 1, 2}},
	}
	for _, p := range cases {
		b := allspark.MarshalPublication(nil, p)
		got, err := allspark.UnmarshalPublication(b)
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Fatalf("round trip: got %+v, want %+v", got, p)
		}
	}
}

func TestUnmarshalPublicationRefusesCorruptBytes(t *testing.T) {
	good := allspark.MarshalPublication(nil, &allspark.Publication{Node: "a", Rooms: []string{"r"}, Payload: []byte("x")})
	for name, b := range map[string][]byte{
		"empty":        nil,
		"version":      append([]byte{9}, good[1:]...),
		"flags":        append([]byte{1, 0x80}, good[2:]...),
		"short string": {1, 0, 5, 'a'},
		"huge list":    {1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"truncated":    good[:5],
		"short value":  {1, 4, 1, 'a', 0, 0, 0, 9, 1},
	} {
		if _, err := allspark.UnmarshalPublication(b); !errors.Is(err, allspark.ErrBadPublication) {
			t.Errorf("%s: err %v, want ErrBadPublication", name, err)
		}
	}
}

func FuzzUnmarshalPublication(f *testing.F) {
	f.Add(allspark.MarshalPublication(nil, &allspark.Publication{Node: "a", Rooms: []string{"r"}, Payload: []byte("x")}))
	f.Add(allspark.MarshalPublication(nil, &allspark.Publication{Node: "b", All: true, Binary: true, Except: []string{"e"}}))
	f.Add([]byte{1, 3})
	f.Add(allspark.MarshalPublication(nil, &allspark.Publication{Node: "c", Rooms: []string{"r"}, Payload: []byte("x"), Value: []byte{0x91, 1}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := allspark.UnmarshalPublication(b)
		if err != nil {
			return
		}
		again := allspark.MarshalPublication(nil, p)
		if !bytes.Equal(again, b) {
			// Non-minimal uvarints read fine but re-encode shorter; the
			// decoded publication must then be stable.
			p2, err := allspark.UnmarshalPublication(again)
			if err != nil || !reflect.DeepEqual(p, p2) {
				t.Fatalf("unstable: %+v vs %+v (%v)", p, p2, err)
			}
		}
	})
}
