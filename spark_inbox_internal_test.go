package allspark

import (
	"testing"

	"github.com/allspark/allspark/parser"
)

// A message that fails to decode while the OnConnection hooks still run
// waits in the inbox like data does: the OnError handler a hook registers
// hears of it once the hooks are done, in order with the data around it
// (before, the error was logged and lost when no handler existed yet).
func TestBadMessageDuringHooksReachesOnError(t *testing.T) {
	srv, sp, _ := newFakeSpark(t, Options{PingInterval: NoPing})
	defer func() { sp.OnClose(nil); _ = srv.Shutdown(t.Context(), ShutdownOptions{}) }()
	sp.mu.Lock()
	sp.hooksDone = false // as while an OnConnection hook runs
	sp.mu.Unlock()
	sp.OnMessage(false, []byte(`"before"`))
	sp.OnMessage(false, []byte(`{"broken":`))
	sp.OnMessage(false, []byte(`"after"`))
	var got []string
	sp.OnData(func(v any) { got = append(got, v.(string)) })
	sp.OnError(func(err error) {
		if pe, ok := err.(*parser.Error); ok && pe.Op == "decode" {
			got = append(got, "error")
		}
	})
	sp.flushPending()
	if len(got) != 3 || got[0] != "before" || got[1] != "error" || got[2] != "after" {
		t.Fatalf("after the hooks: %v, want [before error after]", got)
	}
}
