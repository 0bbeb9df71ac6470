package sockjs_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/allspark/allspark/internal/sockjs"
)

// decoded is one delivered message: its text, and whether it was a string.
type decoded struct {
	msg string
	str bool
}

func decodeAll(t testing.TB, frame bool, in string) ([]decoded, error) {
	t.Helper()
	var d sockjs.Decoder
	var out []decoded
	fn := func(m []byte, str bool) error {
		out = append(out, decoded{string(m), str})
		return nil
	}
	var err error
	if frame {
		err = d.DecodeFrame([]byte(in), fn)
	} else {
		err = d.DecodeArray([]byte(in), fn)
	}
	return out, err
}

// TestDecodeArray: an xhr_send body is a JSON array; its strings are
// delivered unescaped, other values as their JSON text; anything else is
// refused with the reference's two errors.
func TestDecodeArray(t *testing.T) {
	s := func(ms ...string) []decoded {
		var out []decoded
		for _, m := range ms {
			out = append(out, decoded{m, true})
		}
		return out
	}
	for _, c := range []struct {
		in   string
		want []decoded
		err  error
	}{
		{`[]`, nil, nil},
		{` [ ] `, nil, nil},
		{`["a"]`, s("a"), nil},
		{`["a","b" , "c"]`, s("a", "b", "c"), nil},
		{"\n[\"x\"]\r\n", s("x"), nil},
		{`["\"hello\""]`, s(`"hello"`), nil},
		{`["a\nb\t\u0041\/\\"]`, s("a\nb\tA/\\"), nil},
		{`["\ud83d\ude00"]`, s("😀"), nil},
		{`["\ud83d"]`, s("\ufffd"), nil},
		{`["\ude00\ud83d x"]`, s("\ufffd\ufffd x"), nil},
		{"[\"a\xffb\"]", s("a\ufffdb"), nil},
		{`["",""]`, s("", ""), nil},
		{`[1,"x",null,{"a":[1]},true]`, []decoded{{"1", false}, {"x", true}, {"null", false}, {`{"a":[1]}`, false}, {"true", false}}, nil},
		{``, nil, sockjs.ErrPayloadExpected},
		{`  `, nil, sockjs.ErrPayloadExpected},
		{`"a"`, nil, sockjs.ErrPayloadExpected},
		{`{}`, nil, sockjs.ErrPayloadExpected},
		{`null`, nil, sockjs.ErrPayloadExpected},
		{`[`, nil, sockjs.ErrBrokenJSON},
		{`["a"`, nil, sockjs.ErrBrokenJSON},
		{`["a",]`, nil, sockjs.ErrBrokenJSON},
		{`["a"]x`, nil, sockjs.ErrBrokenJSON},
		{`["a\x"]`, nil, sockjs.ErrBrokenJSON},
		{"[\"a\nb\"]", nil, sockjs.ErrBrokenJSON},
		{`["\u12"]`, nil, sockjs.ErrBrokenJSON},
		{`x`, nil, sockjs.ErrBrokenJSON},
	} {
		got, err := decodeAll(t, false, c.in)
		if !errors.Is(err, c.err) || (err == nil && c.err != nil) {
			t.Errorf("DecodeArray(%q): err %v, want %v", c.in, err, c.err)
			continue
		}
		if c.err == nil && !reflect.DeepEqual(got, c.want) {
			t.Errorf("DecodeArray(%q) = %v, want %v", c.in, got, c.want)
		}
		if c.err != nil && len(got) > 0 {
			t.Errorf("DecodeArray(%q) delivered %v before failing", c.in, got)
		}
	}
}

// TestDecodeFrame: a WebSocket frame is the array, or one value; an empty
// frame holds nothing.
func TestDecodeFrame(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []decoded
		err  error
	}{
		{``, nil, nil},
		{`["a","b"]`, []decoded{{"a", true}, {"b", true}}, nil},
		{`"a\"b"`, []decoded{{`a"b`, true}}, nil},
		{` "x" `, []decoded{{"x", true}}, nil},
		{`5`, []decoded{{"5", false}}, nil},
		{` {"a":1} `, []decoded{{`{"a":1}`, false}}, nil},
		{`"a`, nil, sockjs.ErrBrokenJSON},
		{`"a" "b"`, nil, sockjs.ErrBrokenJSON},
		{`["a"`, nil, sockjs.ErrBrokenJSON},
		{`nope`, nil, sockjs.ErrBrokenJSON},
	} {
		got, err := decodeAll(t, true, c.in)
		if !errors.Is(err, c.err) || (err == nil && c.err != nil) {
			t.Errorf("DecodeFrame(%q): err %v, want %v", c.in, err, c.err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("DecodeFrame(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestDecodeStopsAtCallbackError: an error from the callback ends the
// decoding and is returned.
func TestDecodeStopsAtCallbackError(t *testing.T) {
	var d sockjs.Decoder
	stop := errors.New("stop")
	n := 0
	err := d.DecodeArray([]byte(`["a","b","c"]`), func([]byte, bool) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 2 {
		t.Fatalf("err=%v after %d calls", err, n)
	}
}

// TestDecodeAllocatesNothingForPlainStrings: what sockjs-client sends (an
// array of strings) is delivered from the input, and escaped strings from
// the decoder's reused scratch buffer.
func TestDecodeAllocatesNothingForPlainStrings(t *testing.T) {
	var d sockjs.Decoder
	body := []byte(`["hello","\"primus\" \\ escaped\n","world"]`)
	fn := func([]byte, bool) error { return nil }
	_ = d.DecodeArray(body, fn)
	if n := testing.AllocsPerRun(200, func() { _ = d.DecodeArray(body, fn) }); n != 0 {
		t.Fatalf("%v allocations per body", n)
	}
}
