// Package allspark is a real-time server for Go that speaks the Primus
// protocol (websockets transformer), so the stock Primus client, Allspark's
// Go client and its browser client all connect to it unchanged.
//
// # Overview
//
// A Server is an http.Handler that owns every request under its pathname
// (default "/primus"). WebSocket upgrades become Sparks; plain requests get
// <pathname>/spec, the client library at <pathname>/primus.js, or 426
// Upgrade Required.
//
//	srv, _ := allspark.New(allspark.Options{})
//	srv.OnConnection(func(ctx context.Context, s *allspark.Spark) error {
//		s.OnData(func(data any) { s.Write(data) })
//		return nil
//	})
//	http.Handle("/primus/", srv)
//
// # Request path
//
// Every request runs the named middleware chain (Use, UseAt, Remove, Enable,
// Disable). The built-ins, in order, are "cors", "no-cache", "spec",
// "primus.js" and "authorization"; they are ordinary layers. After the chain, an upgrade is
// handed to the WebSocket engine and a Spark is created.
//
// # Messages
//
// Incoming frames are decoded by the Parser (JSON by default, wire-identical
// to Primus), checked for protocol messages ("primus::pong::", "primus::id::"),
// passed through the incoming transforms and delivered to the spark's OnData
// handlers. Outgoing data passes the outgoing transforms, is encoded, and is
// queued on the spark's bounded send queue, drained by a writer goroutine
// that exists only while there is something to write.
//
// # Bad input
//
//   - Undecodable message: a *parser.Error goes to the spark's OnError
//     handlers; the message is dropped; the connection stays open.
//   - Message over MaxLength from a client: the connection is closed with
//     status 1009 and ErrTooLarge is reported to OnError.
//   - Text frame that is not UTF-8: closed with 1007 by the engine.
//   - Transform error: a *TransformError to OnError; message dropped.
//   - Writing a control string ("primus::ping::…", "primus::server::…", …):
//     ErrReserved; nothing is sent. Other "primus::" strings are data.
//   - Full send queue: see SlowConsumerPolicy; memory per spark stays bounded.
//   - Peer that stops answering pings: ended with reconnect after one missed
//     interval. Peer that stops reading: cut after WriteTimeout.
//
// # Shutdown
//
// Shutdown ends every spark (optionally telling clients to reconnect), waits
// for queues to flush and cuts what remains at the deadline. No goroutine of
// the server outlives it.
package allspark
