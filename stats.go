package allspark

import "sync/atomic"

// Stats is a snapshot of a server's counters, for metrics.
type Stats struct {
	Connections   int    // sparks connected now
	Accepted      uint64 // connections accepted since start
	MessagesIn    uint64 // data and control messages received
	MessagesOut   uint64 // messages written to sockets
	BytesIn       uint64 // payload bytes received
	BytesOut      uint64 // payload bytes written
	Dropped       uint64 // messages dropped by SlowConsumerDropOldest
	SlowConsumers uint64 // sparks ended by SlowConsumerClose
	AuthFailures  uint64 // requests refused by authorization
	ParseErrors   uint64 // messages the parser could not decode
	MissedPongs   uint64 // sparks ended for not answering a ping
	// VolatileSkipped counts receivers a volatile write skipped because
	// their socket was busy.
	VolatileSkipped uint64
	// Forwarded counts polling requests this node sent on to the node
	// holding their session; ForwardServed those it served for others.
	Forwarded, ForwardServed uint64
}

type counters struct {
	accepted, messagesIn, messagesOut, bytesIn, bytesOut atomic.Uint64
	dropped, slowClosed, authFailures, parseErrors       atomic.Uint64
	missedPongs, volatileSkipped                         atomic.Uint64
	forwarded, forwardServed                             atomic.Uint64
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Connections:     s.Len(),
		Accepted:        c.accepted.Load(),
		MessagesIn:      c.messagesIn.Load(),
		MessagesOut:     c.messagesOut.Load(),
		BytesIn:         c.bytesIn.Load(),
		BytesOut:        c.bytesOut.Load(),
		Dropped:         c.dropped.Load(),
		SlowConsumers:   c.slowClosed.Load(),
		AuthFailures:    c.authFailures.Load(),
		ParseErrors:     c.parseErrors.Load(),
		MissedPongs:     c.missedPongs.Load(),
		VolatileSkipped: c.volatileSkipped.Load(),
		Forwarded:       c.forwarded.Load(),
		ForwardServed:   c.forwardServed.Load(),
	}
}
