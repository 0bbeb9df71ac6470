// Command allspark serves an Allspark real-time server with a chat demo at
// /, an HTTP publish API, Prometheus metrics and health checks.
//
//	go run ./cmd/allspark            # demo at http://localhost:8080/
//	go run ./cmd/allspark --help     # every flag, its ALLSPARK_* variable and default
//	go run ./cmd/allspark client > primus.js   # the client library, as served
//
// With --echo every data message is written back to its sender; the
// conformance and benchmark suites use that mode. Everything lives in
// internal/app; this file only picks the command and maps errors to an exit
// status.
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
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run picks the command, runs it and returns the exit status. `allspark
// client [flags]` writes the client library and exits; anything else serves.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var err error
	if len(args) > 0 && args[0] == app.ClientCommand {
		err = app.Client(args[1:], getenv, stdout, stderr)
	} else {
		err = app.Run(context.Background(), args, getenv, stderr)
	}
	return exitCode(err, stderr)
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
