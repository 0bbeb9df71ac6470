// Package rawsrv is the benchmark's limit server: no framework, no encoding.
// It accepts WebSocket upgrades on raw TCP (internal/wsframe), joins each
// connection to the rooms in its URL (/raw?rooms=a,b), writes a frame that
// starts with 'P' ("P<room>\n<data>") to every member of the room as one
// frame built once, and writes any other frame back to its sender.
//
// One goroutine per connection reads; writes are appended to a per-connection
// buffer flushed by a writer goroutine that exists only while there is
// something to send, so frames published back to back leave in one syscall.
// It answers pings and closes, and nothing else of RFC 6455 that the
// benchmark does not use.
//
// ServeEpoll is the same server with an event-driven read path (epoll,
// no goroutine and no read buffer per open connection): the limit for an
// event-driven engine.
package rawsrv
