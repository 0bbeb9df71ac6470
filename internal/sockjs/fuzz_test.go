package sockjs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/allspark/allspark/internal/sockjs"
)

// FuzzDecode: the decoder of client bodies and frames agrees with
// encoding/json on what is JSON and on every message's value, delivers
// nothing from input it refuses, and never panics.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`[]`, `["a","b"]`, `["\"hi\""]`, `["\ud83d\ude00","\u2028"]`, `[1,{"a":[2]},null]`,
		`"x"`, `5`, ``, `[`, `["a",]`, "[\"\xff\"]", `["\ud800\u0041"]`, ` [ "a" ] `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var d sockjs.Decoder
		for _, frame := range []bool{false, true} {
			var got []json.RawMessage
			var strs []bool
			fn := func(m []byte, str bool) error {
				if str {
					q, _ := json.Marshal(string(m))
					got = append(got, q)
				} else {
					got = append(got, append(json.RawMessage(nil), m...))
				}
				strs = append(strs, str)
				return nil
			}
			var err error
			if frame {
				err = d.DecodeFrame(in, fn)
			} else {
				err = d.DecodeArray(in, fn)
			}
			valid := json.Valid(in)
			var arr []any
			// JSON null unmarshals into a nil slice without error, but it is
			// no array: a body of null is "Payload expected." in sockjs-node
			// (!d), as the decoder answers, and a frame of null is one null
			// message (found by the fuzzer in CI).
			isArray := valid && unmarshal(in, &arr) == nil && arr != nil
			switch {
			case frame && len(in) == 0:
				if err != nil || len(got) != 0 {
					t.Fatalf("empty frame: %v %q", err, got)
				}
				continue
			case !valid:
				if !errors.Is(err, sockjs.ErrBrokenJSON) && !(errors.Is(err, sockjs.ErrPayloadExpected) && !frame && len(trim(in)) == 0) {
					t.Fatalf("%q frame=%v: err %v for invalid JSON", in, frame, err)
				}
				if len(got) != 0 {
					t.Fatalf("%q: delivered %q from invalid JSON", in, got)
				}
				continue
			case !isArray && !frame:
				if !errors.Is(err, sockjs.ErrPayloadExpected) || len(got) != 0 {
					t.Fatalf("%q: non-array body: err %v, got %q", in, err, got)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%q frame=%v: %v for valid JSON", in, frame, err)
			}
			var want []any
			if isArray {
				want = arr
			} else {
				var v any
				_ = unmarshal(in, &v)
				want = []any{v}
			}
			if len(got) != len(want) {
				t.Fatalf("%q: %d messages, want %d", in, len(got), len(want))
			}
			for i := range got {
				var g any
				if err := unmarshal(got[i], &g); err != nil {
					t.Fatalf("%q: message %d %q is not JSON: %v", in, i, got[i], err)
				}
				wb, _ := json.Marshal(want[i])
				gb, _ := json.Marshal(g)
				if string(wb) != string(gb) {
					t.Fatalf("%q: message %d = %s, want %s", in, i, gb, wb)
				}
				_, isStr := want[i].(string)
				if strs[i] != isStr {
					t.Fatalf("%q: message %d string=%v, want %v", in, i, strs[i], isStr)
				}
			}
		}
	})
}

// unmarshal decodes numbers as json.Number, so any JSON number (1E1000
// too) compares by its text.
func unmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("data after the value")
	}
	return nil
}

func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}
