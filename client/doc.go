// Package client is a Go client for Allspark and any Primus server using the
// websockets transformer, with the resilience of Primus's own client:
// randomized exponential back-off, reconnection strategies, a connect
// timeout, a ping watchdog and a queue for writes made while disconnected.
//
// It speaks WebSocket only, and is meant to stay so: the HTTP fallbacks a
// server may offer (long-polling) are for browsers behind proxies that
// refuse upgrades; a Go program that cannot open a WebSocket reconnects by
// its strategy like after any other failed attempt.
//
// # Connecting
//
// Dial connects and waits until the connection is open; New starts
// connecting in the background (or not at all with Options.Manual, until
// Open). Both take the server's base URL; the pathname defaults to "/primus".
//
//	c, err := client.Dial(ctx, "ws://localhost:8080", client.Options{
//		OnEvent: func(ev client.Event) {
//			if ev.Kind == client.EventData {
//				fmt.Println("got", ev.Data)
//			}
//		},
//	})
//	if err != nil { ... }
//	defer c.Destroy()
//	c.Write(map[string]any{"hello": "world"})
//
// The zero Options are Primus's defaults: reconnect with delays from 500 ms
// growing by a factor of 2 (randomized, no cap) for 10 attempts of at most
// 30 s each, on unexpected drops and on a failed first connection; a 10 s
// connect timeout; a watchdog of 1.5 × the server's ping interval, read from
// <pathname>/spec; the JSON parser. One difference: at most
// DefaultQueueSize writes are held while disconnected (Primus holds any
// number); when the queue is full the oldest is dropped and EventDrop says
// so.
//
// # Events
//
// Everything that happens to a client is an Event delivered to the single
// Options.OnEvent callback, in Primus's order:
//
//	open → data… → close → reconnect scheduled → reconnect → reconnected → open
//	close → end                                  (server ended the spark)
//	… reconnect scheduled → reconnect → end → reconnect failed   (retries used up)
//
// A callback, not a channel, because the client must never block on its
// consumer: a channel the application forgets to drain would stall pings
// and reconnection, while a callback is fed from an internal queue and the
// client keeps running. One callback rather than one per kind, because the
// order between kinds is the point: a single function sees the whole
// sequence and a switch on Event.Kind reads like Primus's event names.
// Events of one client are delivered one at a time, in order, from one
// goroutine (never two callbacks of the same client at once); different
// clients deliver concurrently. The callback may call any method of the
// client, including Write, ID, End and Destroy. A slow callback slows the
// connection down rather than growing memory (see Flow control). To consume
// events as a channel, send them to one from the callback. EventDrop is ours (Primus drops silently);
// Primus's readyStateChange, online, offline and destroy are not emitted
// (ReadyState and Done cover them).
//
// # Reconnection
//
// A connection that closes without "primus::server::close", or whose
// watchdog expires, is an unexpected drop: with StrategyDisconnect (the
// default) the client reconnects. Attempt n waits
// min(round((rand+1)·Min·Factor^(n−1)), Max) (exactly Min for n = 1); the
// chosen delay is in EventReconnectScheduled's Attempt.Delay. After Retries
// failed attempts the client emits EventEnd and EventReconnectFailed.
//
// The client does not reconnect when the server ends the spark with
// "primus::server::close" (EventClose and EventEnd with ErrServerClosed),
// after End, or when the upgrade is refused with 401 or 403: that is an
// *AuthError carrying the status, the server's {"error": ...} message and
// WWW-Authenticate. Primus's "online" strategy needs a browser; it is
// accepted and has no effect.
//
// # Writing
//
// Write encodes with the parser (the same code the server uses) and writes
// one frame. While the client is not open, writes are queued and flushed in
// order when a connection opens, before any later write. ID asks the server
// for the spark id ("primus::id::"). Pings are answered with
// "primus::pong::<same value>".
//
// # Flow control
//
// Messages received but not yet handled (EventData, EventError for a bad
// message, and named events waiting for their On handlers) are bounded by
// Options.MaxQueuedEvents (default 256) and Options.MaxQueuedBytes (default
// 4 MiB of wire size). At the bound the client stops reading the socket
// until the handlers have worked the queue down to half of it: TCP then
// slows the server down, and nothing is dropped (an Allspark server holds
// its own bounded queue for the client and applies its slow-consumer
// policy). While it does not read, the ping watchdog is paused, because a
// slow handler is not a dead server, and the client sends WebSocket pings,
// which the server's heartbeat counts as pongs.
//
// Pings, id answers, "primus::server::close" and acks are not queued. So
// that a handler awaiting EmitWithAck (or ID) is not stuck behind its own
// full queue, the client goes on reading while any request awaits a reply,
// up to OverflowFactor (4) times the bounds; past that it closes the
// connection (close code 1008) and reports ErrEventOverflow in EventClose,
// an unexpected drop that reconnects per Strategy. Messages read before are
// still delivered; the waiting requests fail with code disconnected. At
// most Options.MaxPendingAcks (default 1024) EmitWithAck calls wait at once;
// more fail with ErrTooManyRequests.
//
// # Recovery
//
// Unless Options.NoRecover is set, the client asks the server for a
// session and keeps the last position of every room whose messages the
// server stamps (rooms with history). A reconnect presents both, and the
// server gives the spark back and replays what was missed, or says it
// cannot: Options.OnSession receives its answer as a RecoveryInfo, and
// Recovered and Restored report the last one. Per room each offset is
// delivered once, in order; a gap or a new epoch makes the client reconnect
// at once (EventClose carries ErrResync) so the server can fill it. Stamped
// messages are unwrapped and handled as bare ones. The positions of at most
// 64 rooms are kept.
//
// # Goroutines
//
// An open, idle client has one goroutine (the connection's reader); a
// second one delivers events while there are any. After Destroy both exit;
// Done is closed when they have.
package client
