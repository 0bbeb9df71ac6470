package primus

import (
	"encoding/json"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in    any
		kind  Kind
		value string
	}{
		{"primus::ping::123", Ping, "123"},
		{"primus::pong::123", Pong, "123"},
		{"primus::id::", ID, ""},
		{"primus::id::abc", ID, "abc"},
		{"primus::server::close", Server, "close"},
		{"primus::other::x", None, ""},
		{"primus::", None, ""},
		{"primus::ping", None, ""},
		{"hello", None, ""},
		{42.0, None, ""},
		{nil, None, ""},
	}
	for _, tc := range cases {
		if k, v := Parse(tc.in); k != tc.kind || v != tc.value {
			t.Errorf("Parse(%#v) = %v %q, want %v %q", tc.in, k, v, tc.kind, tc.value)
		}
	}
	if PingMessage(7) != "primus::ping::7" || PongMessage("7") != "primus::pong::7" || IDMessage("x") != "primus::id::x" {
		t.Fatal("builders")
	}
	if !IsReserved("primus::server::close") || IsReserved("primus::anything::x") || IsReserved("primus:") {
		t.Fatal("IsReserved")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"primus::ping::1", "primus::id::", "primus::::", "primus::server::close", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, v := Parse(s)
		if k != None && len(v) >= len(s) {
			t.Fatalf("value %q not a suffix of %q", v, s)
		}
		if k != None && !IsReserved(s) {
			t.Fatalf("%q parsed as control but not reserved", s)
		}
	})
}

func TestIsPongJSON(t *testing.T) {
	for in, want := range map[string]bool{
		`"primus::pong::1733230000000"`: true,
		`"primus::pong::"`:              true,
		`"primus::pong::a b"`:           true,
		`"primus::pong::\u0031"`:        false, // escaped: decoded the slow way
		`"primus::pong::1" `:            false,
		` "primus::pong::1"`:            false,
		`"primus::pong::1`:              false,
		`"primus::ping::1"`:             false,
		`"primus::pong::1"x"`:           false,
		"\"primus::pong::\n\"":          false,
		`primus::pong::1`:               false,
		`["primus::pong::1"]`:           false,
		"\"primus::pong::\xff\"":        false, // not UTF-8
	} {
		if got := IsPongJSON([]byte(in)); got != want {
			t.Errorf("IsPongJSON(%s) = %v, want %v", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { IsPongJSON([]byte(`"primus::pong::1733230000000"`)) }); n != 0 {
		t.Fatalf("IsPongJSON allocates %v times", n)
	}
}

// FuzzIsPongJSON: what IsPongJSON takes for a pong is one for the JSON
// decoder and Parse too, so the shortcut never answers what the slow way
// would not.
func FuzzIsPongJSON(f *testing.F) {
	for _, s := range []string{`"primus::pong::1"`, `"primus::pong::\"1"`, `"primus::pong::` + "\xff" + `"`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !IsPongJSON(b) {
			return
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("IsPongJSON(%q) but JSON says %v", b, err)
		}
		if k, v := Parse(s); k != Pong || v != string(b[len(pongJSON):len(b)-1]) {
			t.Fatalf("IsPongJSON(%q) but Parse says %v %q", b, k, v)
		}
	})
}
