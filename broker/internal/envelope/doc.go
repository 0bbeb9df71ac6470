// Package envelope is the wire format the Redis and NATS brokers share:
// what travels in one PUBLISH or one NATS message. The first byte says
// what follows:
//
//	'p' publication: allspark.MarshalPublication bytes (the publishing node
//	    is inside, in Publication.Node)
//	'm' node message (Broker.Send): uvarint len(from) | from |
//	    uvarint len(to) | to ("" for every other node) | msg (the rest)
//	'k' probe (a broker to itself): uvarint sequence number
//
// Sender and receiver stay beside the opaque message so that a node can
// drop its own traffic and check that a per-node message is for it, even
// when it arrived on its own topic. An unknown first byte is refused, never
// guessed at, so a later kind can be added with a new letter.
package envelope
