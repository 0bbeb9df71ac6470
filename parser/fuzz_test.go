package parser_test

import (
	"reflect"
	"runtime"
	"testing"

	"github.com/allspark/allspark/parser"
)

// FuzzJSONDecode: any bytes either fail cleanly or decode to a value that
// re-encodes to something decoding to the same value.
func FuzzJSONDecode(f *testing.F) {
	for _, s := range []string{`0`, `"primus::ping::1"`, `{"a":[1,{"b":null}]}`, `"\u2028"`, `[`, `"\xff"`, `1e400`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parser.JSON{}.Decode(b, false)
		if err != nil {
			return
		}
		enc, _, err := parser.JSON{}.Encode(v)
		if err != nil {
			t.Fatalf("decoded value does not re-encode: %v", err)
		}
		w, err := parser.JSON{}.Decode(enc, false)
		if err != nil || !reflect.DeepEqual(v, w) {
			t.Fatalf("round trip changed %#v into %#v (%v)", v, w, err)
		}
	})
}

// FuzzMsgPackDecode: no panic, and allocation stays proportional to the input
// whatever lengths the input declares.
func FuzzMsgPackDecode(f *testing.F) {
	for _, b := range [][]byte{{0x93, 0x01, 0xa1, 'x', 0xc0}, {0xdd, 0xff, 0xff, 0xff, 0xff}, {0x81, 0xa1, 'k', 0xc4, 0x01, 0x00}, {0xc7, 0x01, 0x05, 0x00}} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _ = parser.MsgPack{}.Decode(b, true)
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(64*len(b)+1<<20) {
			t.Fatalf("decoding %d bytes allocated %d bytes", len(b), grew)
		}
	})
}
