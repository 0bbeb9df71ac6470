// Package hostile is a black-box suite of hostile WebSocket clients (and
// event-stream subscribers, sse_test.go; primus-emitter clients, emitter_test.go) run against a real Allspark server
// (issue 11, "Prove it"; issue 14).
//
// Each test starts a server on 127.0.0.1 through the public API only, drives
// it with a raw WebSocket peer written here (handshake, masked frame writer,
// frame reader: nothing hides what goes on the wire), and asserts three
// things:
//
//   - a bound on heap growth in the server, which is this test process
//     (runtime.GC, then MemStats.HeapAlloc), far below what the hostile
//     client could make an unbounded server allocate;
//   - a clear outcome: a close code, an HTTP status, an error, or reads that
//     stop (back-pressure through TCP);
//   - that the server still serves a well-behaved client afterwards: a
//     second, ordinary client gets its message echoed.
//
// The scenarios are separate top-level tests so a failure names its
// scenario.
//
// Everything talks to loopback only, is bounded in count and time, and stops
// by itself; the package runs in well under a minute with -race.
package hostile
