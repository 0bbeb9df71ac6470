package allspark

import (
	"strings"
	"testing"
)

// An engine name New does not know is an error, not a silent default.
func TestUnknownWebSocketEngine(t *testing.T) {
	if _, err := New(Options{WebSocketEngine: "epoll"}); err == nil || !strings.Contains(err.Error(), "WebSocketEngine") {
		t.Fatalf("New with an unknown engine: %v", err)
	}
	for _, e := range []WebSocketEngine{"", EnginePoller, EngineGoroutine} {
		s, err := New(Options{WebSocketEngine: e})
		if err != nil {
			t.Fatalf("%q: %v", e, err)
		}
		s.Close()
	}
}
