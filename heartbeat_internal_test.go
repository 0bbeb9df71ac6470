package allspark

import (
	"testing"

	"github.com/allspark/allspark/parser"
)

// A Primus pong is answered without decoding it under the JSON parser: the
// spark counts as alive, the application sees nothing, and it costs no
// allocation (an idle server's heartbeats make no garbage on the read
// side). An escaped pong takes the decoder and counts the same.
func TestPongAnsweredWithoutDecoding(t *testing.T) {
	srv, sp, _ := newFakeSpark(t, Options{PingInterval: NoPing})
	defer func() { sp.OnClose(nil); _ = srv.Shutdown(t.Context(), ShutdownOptions{}) }()
	var data []any
	sp.OnData(func(v any) { data = append(data, v) })
	for _, pong := range []string{`"primus::pong::1733230000000"`, `"primus::pong::\u0031"`} {
		sp.alive.Store(false)
		sp.OnMessage(false, []byte(pong))
		if !sp.alive.Load() {
			t.Errorf("%s: not alive after the pong", pong)
		}
	}
	payload := []byte(`"primus::pong::1733230000000"`)
	if n := testing.AllocsPerRun(100, func() { sp.OnMessage(false, payload) }); n != 0 {
		t.Errorf("a pong allocates %v times", n)
	}
	if len(data) != 0 {
		t.Fatalf("pongs delivered as data: %v", data)
	}
}

// Under another parser the same bytes are that parser's to decode: no
// shortcut is taken on a JSON-looking payload.
func TestPongShortcutIsJSONOnly(t *testing.T) {
	srv, sp, _ := newFakeSpark(t, Options{PingInterval: NoPing, Parser: textParser{}})
	defer func() { sp.OnClose(nil); _ = srv.Shutdown(t.Context(), ShutdownOptions{}) }()
	var data []any
	sp.OnData(func(v any) { data = append(data, v) })
	sp.OnMessage(false, []byte(`"primus::pong::1"`))
	if len(data) != 1 || data[0] != `"primus::pong::1"` {
		t.Fatalf("under a text parser the quoted pong is data: got %v", data)
	}
}

// textParser hands payloads on as strings, quotes and all.
type textParser struct{}

func (textParser) Name() string                         { return "text" }
func (textParser) Encode(v any) ([]byte, bool, error)   { return parser.JSON{}.Encode(v) }
func (textParser) Decode(p []byte, _ bool) (any, error) { return string(p), nil }
func (textParser) Unmarshal(p []byte, _ bool, dst any) error {
	return parser.JSON{}.Unmarshal(p, false, dst)
}
