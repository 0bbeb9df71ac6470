package directupgrade

import (
	"net/http"
	"testing"
)

func TestIsUpgrade(t *testing.T) {
	for _, tc := range []struct {
		method, upgrade string
		connection      []string
		want            bool
	}{
		{"GET", "websocket", []string{"Upgrade"}, true},
		{"GET", "WebSocket", []string{"keep-alive, UPGRADE"}, true},
		{"GET", "websocket", []string{"keep-alive", " upgrade "}, true},
		{"POST", "websocket", []string{"Upgrade"}, false},
		{"GET", "h2c", []string{"Upgrade"}, false},
		{"GET", "websocket", []string{"keep-alive"}, false},
		{"GET", "websocket", nil, false},
	} {
		r := &http.Request{Method: tc.method, Header: http.Header{"Upgrade": {tc.upgrade}, "Connection": tc.connection}}
		if got := IsUpgrade(r); got != tc.want {
			t.Errorf("%s Upgrade %q Connection %q: %v, want %v", tc.method, tc.upgrade, tc.connection, got, tc.want)
		}
	}
	r := &http.Request{Method: "GET", Header: http.Header{"Upgrade": {"websocket"}, "Connection": {"keep-alive, Upgrade"}}}
	if n := testing.AllocsPerRun(100, func() { IsUpgrade(r) }); n != 0 {
		t.Errorf("IsUpgrade allocates %.0f times per call (once per connect)", n)
	}
}
