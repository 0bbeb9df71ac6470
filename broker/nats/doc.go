// Package nats is an allspark.Broker over NATS core publish/subscribe, for
// clusters of allspark servers that share a NATS server or cluster.
//
//	b, err := nats.New(nats.Options{Servers: []string{"nats://10.0.0.5:4222"}})
//	srv, err := allspark.New(allspark.Options{Broker: b, NodeID: "edge-1"})
//	…
//	defer b.Close() // after srv.Shutdown
//
// The allspark binary takes the same settings as a URL (ParseURL):
// --broker nats://[user:pass@]host:4222[,host2:4222][?prefix=allspark&probe=5s].
//
// # Subjects
//
// A single-room publication goes on <prefix>.r.<room>, which only the nodes
// with members in the room subscribe to; every other publication (All,
// several rooms, sparks, rooms and sparks) and every broadcast node message
// goes on <prefix>.all, which every node subscribes to and filters locally
// (a spark in two rooms then gets a message once). A message to one node
// goes on <prefix>.n.<node>. Room and node names are encoded into one
// token of [A-Za-z0-9_-] (base64url, hashed past 96 bytes), so no name can
// become a wildcard or several tokens. Wire envelopes are described in
// envelope.go; publications use allspark.MarshalPublication.
//
// # Guarantees
//
// Delivery is at most once and in order per publishing connection, as NATS
// core gives it. A node never gets its own publications or messages back
// (history writes excepted, below). Publish returns (0, nil) once the
// bytes are handed to the connection: delivery is asynchronous.
//
// # History and sessions (JetStream, opt-in)
//
// With Options.History (?history=jetstream) New also checks that the
// account has JetStream (ErrNoJetStream otherwise), and WithHistory returns
// a *HistoryBroker, which implements allspark.HistoryBroker and
// allspark.SessionStore: room history in one stream per history policy,
// offsets taken with Nats-Expected-Last-Subject-Sequence so they are
// gap-free across nodes, delivered to every node with members (the
// writer's own included) by the stream's RePublish, in offset order; and
// sessions in a stream, taken atomically by deleting the record's message
// by sequence. It needs nats-server 2.9 or later. See history.go,
// session.go and docs/recovery.md, "NATS".
//
//	b, err := nats.New(nats.Options{History: true})
//	srv, err := allspark.New(allspark.Options{Broker: b.WithHistory(), History: …})
//
// Outage: the connection reconnects forever, with no reconnect buffer.
// While it is down Publish and Send fail at once with ErrNotConnected
// (bytes are never queued without bound, and a caller is never held longer
// than WriteTimeout, 1 s by default, which also bounds socket writes).
// Subscribe fails the same way but keeps the interest; nats.go resubscribes
// everything when the connection is back, so rooms need not be re-joined.
// What was published during the outage is lost. Register needs a
// connection: it fails, leaving nothing behind, when NATS is unreachable.
//
// Half-broken connections: every ProbeInterval (5 s) each node publishes a
// probe to its own node subject. A probe not back by the next tick makes
// Health fail and rebuilds a connection New dialled; a probe back clears it.
// Health also fails while the connection is down. /readyz reports Health.
//
// Slow nodes: each registered node has a bounded inbound queue
// (InboundQueue messages, 65,536, and InboundBytes, 64 MiB) drained by one
// goroutine that calls its handler. The subscriptions' reader never waits
// for a handler: when the queue is full the traffic is dropped and counted
// (BrokerStats.Dropped, and a log line at most once a second). Before the
// queue, nats.go hands each node's messages to a channel of 1,024; if the
// process is so starved that it fills, nats.go drops them as a slow
// consumer, which is counted in Dropped too. A slow node never slows the
// other nodes of the process, nor the publishers.
//
// Messages larger than the server's max_payload (1 MB by default) are
// refused with an error wrapping natsgo.ErrMaxPayload.
package nats
