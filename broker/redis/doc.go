// Package redis is an allspark.Broker on Redis PUB/SUB: the nodes of an
// Allspark cluster exchange room publications and node-to-node messages
// through one Redis (standalone, Sentinel or Cluster).
//
//	b, err := redis.New(redis.Options{Addrs: []string{"10.0.0.5:6379"}})
//	srv, err := allspark.New(allspark.Options{Broker: b})
//
// # URLs
//
// ParseURL reads the forms the allspark binary's --broker flag takes:
//
//	redis://[user:pass@]host[:6379][/db][?param=value&...]
//	rediss://...                                 the same over TLS
//	redis-sentinel://[pass@]h1:26379,h2:26379/<master>[/db][?...]
//	redis-cluster://[user:pass@]h1:7000,h2:7001[?...]
//
// A userinfo without a colon is a password alone. Parameters: prefix
// (Options.Prefix), probe (ProbeInterval, a duration such as 5s),
// write_timeout (WriteTimeout), queue (InboundQueue). Anything else is an
// error wrapping ErrBadURL.
//
// # Channels and wire
//
// A publication for exactly one room goes on <prefix>:r:<room>, which only
// the nodes with members in that room subscribe; everything else (All,
// several rooms, sparks) goes on <prefix>:all, which every node receives and
// filters locally, so a spark in two rooms gets a message once. Send goes on
// <prefix>:n:<node>, or <prefix>:all for every node. In Cluster mode the
// room and node names are hash-tagged ({room}). Each Broker value also
// listens on <prefix>:k:<random id> for its own probes. Each PUBLISH carries a
// one-byte envelope kind and then allspark.MarshalPublication bytes, or
// sender, receiver and the message (envelope.go).
//
// # History and sessions
//
// The Broker is also an allspark.HistoryBroker and an allspark.SessionStore
// (docs/recovery.md, "Redis"; Redis 6.2 or later). A write to a room with
// history runs one Lua script that takes the room's next offset, appends
// the publication to the room's stream (<prefix>:h:<room>:s, position in
// <prefix>:h:<room>:m) and PUBLISHes it on the room's channel in a history
// envelope ('h', stamp.go), so every node receives a room's writes in
// offset order. Sessions are <prefix>:s:<id>, SET with a TTL and taken
// with GETDEL.
//
// # Guarantees
//
// Delivery is at most once, as with every PUB/SUB: nothing is stored,
// except in the streams of rooms with history, where a client that missed
// a write finds it by its offset.
//
//   - Outage: Publish, Send, Subscribe and Unsubscribe fail within
//     WriteTimeout (1 s) with an error; nothing is buffered for later.
//     Subscriptions are remembered and, once Redis is back, the broker
//     reconnects and resubscribes by itself, so no room needs re-joining.
//     What was published meanwhile is lost.
//   - Stale connection: every ProbeInterval the broker publishes a probe to
//     its own channel; if it has not come back by the next one, the PUB/SUB
//     connection is torn down and rebuilt (BrokerStats.Reconnects), and
//     Health reports ErrProbeTimeout meanwhile. This catches a connection
//     that is up at TCP level but no longer delivers (after a Sentinel
//     failover, or a half-dead network path), which a reconnect-on-error
//     client alone never notices.
//   - Slow node: the PUB/SUB reader never waits for a handler. Each node has
//     a queue of InboundQueue deliveries (plus the batch in its handler);
//     past it deliveries for that node are dropped and counted
//     (BrokerStats.Dropped) and logged at most once a second. Memory per
//     node is therefore bounded by InboundQueue × message size.
//   - Failover (Sentinel): the client follows the master the Sentinels name;
//     a subscription left on a demoted master is caught by the probe.
//
// A node never receives its own publications or messages, except writes to
// rooms with history: those reach every node with members, the publisher
// included, so that all deliver them in one order. Several nodes
// may register on one Broker; they share its connections, and traffic
// between them makes the round trip through Redis.
package redis
