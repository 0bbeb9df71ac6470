package allspark

import (
	"net/http"
	"testing"
)

func TestClientAddrTrustsOnlyConfiguredProxies(t *testing.T) {
	trusted, err := parseTrustedProxies([]string{"10.0.0.1", "192.168.0.0/16", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, remote, xff, realIP string
		proxies                   trustedProxies
		want                      string
	}{
		{"no proxies configured: header ignored", "1.2.3.4:5555", "9.9.9.9", "", nil, "1.2.3.4:5555"},
		{"untrusted peer: header ignored", "1.2.3.4:5555", "9.9.9.9", "", trusted, "1.2.3.4:5555"},
		{"trusted peer: client from header", "10.0.0.1:80", "9.9.9.9", "", trusted, "9.9.9.9:0"},
		{"right-most untrusted hop wins", "10.0.0.1:80", "6.6.6.6, 9.9.9.9, 192.168.1.7", "", trusted, "9.9.9.9:0"},
		{"forged left hops ignored", "10.0.0.1:80", "1.1.1.1,8.8.8.8", "", trusted, "8.8.8.8:0"},
		{"all hops trusted: left-most", "10.0.0.1:80", "192.168.1.1, 192.168.1.2", "", trusted, "192.168.1.1:0"},
		{"malformed hop: peer", "10.0.0.1:80", "garbage", "", trusted, "10.0.0.1:80"},
		{"X-Real-IP from trusted peer", "[::1]:80", "", "7.7.7.7", trusted, "7.7.7.7:0"},
		{"X-Real-IP from untrusted peer ignored", "5.5.5.5:80", "", "7.7.7.7", trusted, "5.5.5.5:80"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.1]:80", "9.9.9.9", "", trusted, "9.9.9.9:0"},
		{"unparsable RemoteAddr", "pipe", "", "", trusted, "invalid AddrPort"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.remote
			if tc.xff != "" {
				r.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.realIP != "" {
				r.Header.Set("X-Real-IP", tc.realIP)
			}
			if got := tc.proxies.clientAddr(r).String(); got != tc.want {
				t.Fatalf("clientAddr = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseTrustedProxiesRejectsGarbage(t *testing.T) {
	for _, bad := range []string{"not-an-ip", "10.0.0.0/99", ""} {
		if _, err := parseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := New(Options{TrustedProxies: []string{"nope"}}); err == nil {
		t.Error("New accepted an invalid trusted proxy")
	}
}
