package proto

import (
	"errors"
	"strings"
	"testing"
)

func TestParseEIOOpen(t *testing.T) {
	body := []byte(`0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}` + "\x1e" + `4"hi"`)
	open, rest, err := ParseEIOOpen(body)
	if err != nil {
		t.Fatal(err)
	}
	if open.SID != "abc" || open.PingInterval != 25000 || open.PingTimeout != 20000 || open.MaxPayload != 1000000 || len(open.Upgrades) != 1 {
		t.Fatalf("open = %+v", open)
	}
	if string(rest) != `4"hi"` {
		t.Fatalf("rest = %q", rest)
	}
	for _, bad := range []string{"", "0", `4"x"`, `0{"sid":""}`, `0{"sid":"a"`, `0{"sid":"a","maxPayload":-1}`, "Upgrade Required"} {
		if _, _, err := ParseEIOOpen([]byte(bad)); !errors.Is(err, ErrEIO) {
			t.Fatalf("ParseEIOOpen(%q) err = %v, want ErrEIO", bad, err)
		}
	}
}

func TestEachEIOPacket(t *testing.T) {
	var got []string
	err := EachEIOPacket([]byte("2\x1e4\"primus::ping::1\"\x1e6\x1ebAQI=\x1e4{\"a\":1}"), func(typ byte, data []byte) error {
		got = append(got, string(typ)+"|"+string(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `2|,4|"primus::ping::1",6|,b|AQI=,4|{"a":1}`
	if strings.Join(got, ",") != want {
		t.Fatalf("packets %q, want %q", strings.Join(got, ","), want)
	}
	if err := EachEIOPacket(nil, func(byte, []byte) error { t.Fatal("called"); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"4a\x1e\x1e4b", "\x1e", "9x", "4a\x1e"} {
		if err := EachEIOPacket([]byte(bad), func(byte, []byte) error { return nil }); !errors.Is(err, ErrEIO) {
			t.Fatalf("EachEIOPacket(%q) err = %v, want ErrEIO", bad, err)
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := EachEIOPacket([]byte("4a\x1e4b"), func(byte, []byte) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("fn error not returned at once: %v after %d", err, n)
	}
}

func TestAppendEIOPacketRoundTrip(t *testing.T) {
	var p []byte
	msgs := []string{`{"publish":"r1","data":"#1:2:x"}`, `"primus::pong::5"`}
	for _, m := range msgs {
		before := len(p)
		p = AppendEIOPacket(p, EIOMessage, []byte(m))
		if len(p)-before != EIOPacketLen(before > 0, []byte(m)) {
			t.Fatalf("EIOPacketLen disagrees with AppendEIOPacket for %q", m)
		}
	}
	p = AppendEIOPacket(p, EIOPong, nil)
	if string(p) != "4"+msgs[0]+"\x1e4"+msgs[1]+"\x1e3" {
		t.Fatalf("payload %q", p)
	}
	var got []string
	_ = EachEIOPacket(p, func(typ byte, data []byte) error {
		got = append(got, string(typ)+string(data))
		return nil
	})
	if len(got) != 3 || got[0] != "4"+msgs[0] || got[2] != "3" {
		t.Fatalf("round trip %q", got)
	}
}

func TestPollPath(t *testing.T) {
	if got := PollPath([]string{"a", "b"}); got != "/primus/?EIO=4&transport=polling&rooms=a,b" {
		t.Fatal(got)
	}
	if got := PollPath(nil); got != "/primus/?EIO=4&transport=polling" {
		t.Fatal(got)
	}
}
