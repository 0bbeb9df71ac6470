package parser_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/allspark/allspark/parser"
)

func TestJSONEncodeMatchesJSONStringify(t *testing.T) {
	for v, want := range map[any]string{
		"<a&b>":               `"<a&b>"`, // JSON.stringify leaves these alone
		"\u2028\u2029":        `"\u2028\u2029"`,
		0:                     `0`,
		"primus::ping::1":     `"primus::ping::1"`,
		json.Number("1.50"):   `1.50`,
		string(rune(0x1F680)): `"🚀"`,
	} {
		got, binary, err := parser.JSON{}.Encode(v)
		if err != nil || binary || string(got) != want {
			t.Errorf("Encode(%#v) = %s %v %v, want %s", v, got, binary, err, want)
		}
	}
	if got, binary, _ := (parser.JSON{}).Encode(parser.Binary{1, 2}); !binary || string(got) != "\x01\x02" {
		t.Errorf("Binary: %q %v", got, binary)
	}
	if got, _, _ := (parser.JSON{}).Encode(json.RawMessage(`{"pre":"encoded"}`)); string(got) != `{"pre":"encoded"}` {
		t.Errorf("RawMessage: %s", got)
	}
	var pe *parser.Error
	if _, _, err := (parser.JSON{}).Encode(make(chan int)); !errors.As(err, &pe) || pe.Op != "encode" {
		t.Errorf("unencodable value: %v", err)
	}
}

func TestJSONDecode(t *testing.T) {
	v, err := parser.JSON{}.Decode([]byte(`{"a":[1,"x",null]}`), false)
	if err != nil || !reflect.DeepEqual(v, map[string]any{"a": []any{1.0, "x", nil}}) {
		t.Fatalf("%#v %v", v, err)
	}
	buf := []byte{9, 8}
	v, _ = parser.JSON{}.Decode(buf, true)
	buf[0] = 0
	if b, ok := v.(parser.Binary); !ok || b[0] != 9 {
		t.Fatalf("binary not copied: %#v", v)
	}
	for _, bad := range []string{``, `{`, `"unterminated`, `1 2`, strings.Repeat("[", 20000)} {
		if _, err := (parser.JSON{}).Decode([]byte(bad), false); err == nil {
			t.Errorf("Decode(%.20q) succeeded", bad)
		}
	}
	var dst struct{ A int }
	if err := (parser.JSON{}).Unmarshal([]byte(`{"A":3}`), false, &dst); err != nil || dst.A != 3 {
		t.Fatalf("Unmarshal: %v %v", dst, err)
	}
	var b []byte
	if err := (parser.JSON{}).Unmarshal([]byte{1}, true, &b); err != nil || b[0] != 1 {
		t.Fatalf("Unmarshal binary: %v", err)
	}
	if err := (parser.JSON{}).Unmarshal([]byte{1}, true, &dst); !errors.Is(err, parser.ErrBinaryTarget) {
		t.Fatalf("binary into struct: %v", err)
	}
}

func TestMsgPackRoundTripAndHostileInput(t *testing.T) {
	in := map[string]any{"s": "ü", "n": int8(5), "l": []any{true, nil, "x"}, "b": []byte{1}}
	enc, binary, err := parser.MsgPack{}.Encode(in)
	if err != nil || !binary {
		t.Fatal(err)
	}
	out, err := parser.MsgPack{}.Decode(enc, true)
	if err != nil || !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip %#v %v", out, err)
	}
	for name, bad := range map[string][]byte{
		"array32 of 4G":    {0xdd, 0xff, 0xff, 0xff, 0xff},
		"map32 of 4G":      {0xdf, 0xff, 0xff, 0xff, 0xff},
		"bin32 of 4G":      {0xc6, 0xff, 0xff, 0xff, 0xff},
		"str32 of 2G":      {0xdb, 0x7f, 0xff, 0xff, 0xff},
		"trailing":         {0x01, 0x02},
		"never-used 0xc1":  {0xc1},
		"empty":            {},
		"deep nesting":     append([]byte(strings.Repeat("\x91", 200)), 0),
		"truncated uint64": {0xcf, 0, 0},
	} {
		if _, err := (parser.MsgPack{}).Decode(bad, true); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	if v, ok := parser.ByName("msgpack"); !ok || v.Name() != "msgpack" {
		t.Fatal("ByName msgpack")
	}
	if _, ok := parser.ByName("xml"); ok {
		t.Fatal("ByName xml")
	}
}
