// Package load is the load generator: one worker process opens many WebSocket
// connections to one server under test (bound to several 127.0.0.x source
// addresses, so ephemeral ports never run out), makes them ready (hello
// messages acknowledged, rooms joined), reports, waits for the go signal, runs
// one scenario for a bounded time, reports again and closes everything.
//
// The same code drives every server; only the proto.Protocol differs. The
// harness (cmd/bench) starts workers as child processes and talks to them over
// stdin/stdout:
//
//	worker → CONNECTED {json Connected}
//	harness → "go\n"   (closing stdin instead aborts the worker)
//	worker → DONE {json Done}
//
// Scenarios: idle (hold, then report how many are still open), echo (every
// connection sends at a fixed rate; round trips measured), fanout and storm
// (publishers with a bounded window of messages in flight; deliveries counted
// at the member connections, publish-to-delivery latency from the send time
// carried in each payload), poll-fanout (members on Engine.IO long-polling)
// and sse-fanout (members are event streams, read as an EventSource does).
package load
