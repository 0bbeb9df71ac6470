// Command allspark serves an Allspark real-time server with a chat demo at
// /, an HTTP publish API, Prometheus metrics and health checks.
//
//	go run ./cmd/allspark            # demo at http://localhost:8080/
//	go run ./cmd/allspark --help     # every flag, its ALLSPARK_* variable and default
//
// With --echo every data message is written back to its sender; the
// conformance and benchmark suites use that mode. Everything lives in
// internal/app; this file only maps errors to an exit status.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/allspark/allspark/internal/app"
)

func main() {
	if err := app.Run(context.Background(), os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "allspark:", err)
		if errors.Is(err, app.ErrConfig) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
