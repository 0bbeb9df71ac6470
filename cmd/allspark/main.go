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
	"io"
	"os"

	"github.com/allspark/allspark/internal/app"
)

func main() {
	err := app.Run(context.Background(), os.Args[1:], os.Getenv, os.Stderr)
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err and maps it to the exit status: 0 for success and
// --help, 2 for a configuration error (as flag parsing does), 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, app.ErrConfig):
		fmt.Fprintln(stderr, "allspark:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "allspark:", err)
		return 1
	}
}
