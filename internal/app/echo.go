package app

import (
	"context"

	"github.com/allspark/allspark"
)

// installEcho is --echo: every data message goes back to its sender. The
// conformance suite and the benchmark harness drive the binary this way.
func (a *App) installEcho() {
	a.srv.OnConnection(func(_ context.Context, sp *allspark.Spark) error {
		sp.OnData(func(data any) { _ = sp.Write(data) })
		return nil
	})
}
