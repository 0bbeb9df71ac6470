// Package sse is the Server-Sent Events wire: a GET under the server's
// pathname (the root's handler_sse.go routes <pathname>/sse here) answers
// a text/event-stream that carries one event per message to a spark that
// cannot write, so a browser's plain `new EventSource(url)` is a
// subscriber with no client library.
//
// # Server
//
// [Server] opens each stream through the transport.Acceptor, so the
// subscriber is a spark like any other (authorization and middleware ran
// before, connection hooks, rooms and targets apply); the stream is its
// transport.Session. The response starts with a padding prelude and the
// retry field; a comment heartbeat follows every Heartbeat (skipped while
// an event is being written).
// The spark's writer calls WriteBatch (session.go), which writes each
// message as an event, renews the write deadline and pushes the batch out
// at once.
//
// Where the bytes go (output.go): on HTTP/1.1 the stream takes its
// connection over from net/http once the spark exists, writes the body
// chunked (one writev per batch), and keeps one goroutine per stream that
// reads the socket, to learn at once that the client left, with the
// heartbeat as its read deadline; an idle stream then costs about 6 KB
// instead of the 38 KB of a handler goroutine, net/http's background
// reader and their buffers. On HTTP/2, HTTP/1.0, or behind a middleware's
// ResponseWriter that cannot be hijacked, the stream stays on the
// ResponseWriter (http.ResponseController for deadlines and flushes) and
// the handler goroutine holds it.
//
// Nothing is buffered here beyond the batch being written: a client that
// reads slowly fills its spark's bounded send queue, and the slow-consumer
// policy applies as on any wire; one that takes no bytes for WriteTimeout
// is cut; one that sends more than 4 KiB after its request is dropped.
//
// # Events
//
// The protocol (protocol.go) frames a broadcast once for all streams: a
// named event envelope (internal/events) becomes "event: <name>" with its
// arguments as data (one argument: that argument's JSON; none or several:
// the array), anything else is "data: <json>". Primus pings and id
// answers have no event and are skipped. Each stream writes its own id
// before the shared fields:
//
//	id: <stream>:<n>
//	event: chat
//	data: {"text":"hi"}
//
// The stream is the spark's id and n counts its events from 1 (ID,
// lasteventid.go), so a recovery layer can later resume after n. A spark
// ended without reconnect writes a last event, "end" with empty data,
// whose id is the marker "<stream>:end"; the client reconnects with it as
// its Last-Event-ID and gets 204, which stops an EventSource (a page may
// also close on "end"). Any other reconnect starts a new stream (a new
// spark) from now.
//
// Data with line breaks is split into one data field per line (event.go);
// the client joins them with LF. The encoding, like the format, is UTF-8
// text: a binary message is sent as its base64 JSON string, and a server
// whose parser is not JSON gives a Transcode function.
package sse
