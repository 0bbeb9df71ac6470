package primus

import "testing"

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
