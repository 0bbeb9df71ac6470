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
//	mux := http.NewServeMux()
//	mux.Handle("/primus", srv)  // the endpoint clients dial
//	mux.Handle("/primus/", srv) // and below it: /primus/spec, /primus/primus.js
//	log.Fatal(http.ListenAndServe(":8080", mux))
//
// Mount both forms: with "/primus/" alone, http.ServeMux answers /primus
// with a redirect, which WebSocket clients do not follow.
//
// # Request path
//
// Every request runs the named middleware chain (Use, UseAt, Remove, Enable,
// Disable). The built-ins, in order, are "cors", "no-cache", "spec",
// "primus.js" and "authorization"; they are ordinary layers. After the chain, an upgrade is
// handed to the WebSocket engine and a Spark is created.
//
// "cors" refuses, with 403, a WebSocket upgrade whose Origin header names
// another site than the server's own, unless CORS.Origins lists it: a
// browser sends the user's cookies with such a handshake, so accepting it
// would let any page connect in the user's name. Clients outside a browser
// send no Origin and are not affected.
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
// # Rooms
//
// Sparks Join and Leave named rooms (LeaveAll happens by itself when a spark
// ends; OnJoin/OnLeave hooks see both). Server.Room and Server.To build a
// Target (rooms ∪ sparks by id, minus Except) whose Write and Emit encode the
// message once and push the same bytes onto each member's queue: no
// per-member allocation. Targets reach every node of a cluster through the
// Broker (Options.Broker; default a private MemoryBroker). Package channels
// adds Feathers-style channels and publishers on top. HTTP fallbacks need no
// sticky sessions: a polling request that reaches a node without its
// session is forwarded over the broker to the node that holds it.
//
// # Named events and acknowledgements
//
// Spark.Emit, Spark.EmitWithAck, Spark.On and Server.On (with Handle for
// typed, validated arguments) carry named events as JSON envelopes inside
// ordinary Primus data, so stock Primus clients still exchange plain data on
// the same connection. The wire format, error codes and reserved names are in
// docs/events.md. Event handlers of a spark run in order on a goroutine of
// their own, so they may wait on EmitWithAck to the same client.
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
//   - Malformed event envelope: answered with bad_envelope (ack error if the
//     request id was readable, else an error report) and an *EventError to
//     OnError. Unknown event: unknown_event, never dropped silently.
//     Reserved event name: reserved_event. Arguments that do not fit a
//     Handle type: invalid_argument naming the field. Handler error or
//     panic: handler_error. A reply nobody waits for (late, duplicate): dropped.
//   - Events arriving faster than handlers run: at 256 queued, the spark's
//     reader stops reading until handlers catch up (TCP back-pressure).
//   - Invalid room name: ErrInvalidRoom, nothing joined.
//
// # Shutdown
//
// Shutdown ends every spark (optionally telling clients to reconnect), waits
// for queues to flush and cuts what remains at the deadline. No goroutine of
// the server outlives it.
package allspark
