package allspark

import "github.com/allspark/allspark/internal/transport"

// fanout pushes one encoded frame to many sparks. push runs under a registry
// read lock (Server.mu or the room registry's), so it only queues; anything
// that could end a spark or call user code (slow-consumer handling) is
// remembered and done by finish, after the lock is released. On the common
// path a push is one locked append and, for an idle spark, a writer start:
// no allocation per receiver.
type fanout struct {
	srv        *Server
	f          frame
	dropOldest bool
	// volatile: receivers whose socket is busy are skipped, not queued
	// for (Target.Volatile).
	volatile bool
	n        int
	drops    []*Spark
	overflow []*Spark
}

func (fo *fanout) init(s *Server, f frame) {
	if s.reframing.Load() > 0 {
		// Some receiver's protocol wraps the encoding: its frame is made
		// once, by the first of its writers, and cached here for the rest.
		f.Shared = new(transport.Shared)
	}
	fo.srv, fo.f = s, f
	fo.dropOldest = s.opts.SlowConsumer == SlowConsumerDropOldest
}

func (fo *fanout) push(sp *Spark) {
	if fo.volatile {
		queued, start := sp.queue.pushIfIdle(fo.f)
		if start {
			sp.startWriter()
		}
		if queued {
			fo.n++
		} else {
			fo.srv.stats.volatileSkipped.Add(1)
		}
		return
	}
	res, start := sp.queue.push(fo.f, fo.srv.opts.QueueSize, fo.dropOldest)
	if start {
		sp.startWriter()
	}
	switch res {
	case pushed:
		fo.n++
	case pushedDrop:
		fo.n++
		fo.drops = append(fo.drops, sp)
	case pushFull:
		fo.overflow = append(fo.overflow, sp)
	}
}

// finish applies slow-consumer consequences and returns how many sparks the
// frame was queued for. Call it with no lock held.
func (fo *fanout) finish() int {
	s := fo.srv
	for _, sp := range fo.drops {
		s.stats.dropped.Add(1)
		s.reportSlow(sp, SlowConsumerEvent{Policy: SlowConsumerDropOldest, Dropped: 1})
	}
	for _, sp := range fo.overflow {
		s.stats.slowClosed.Add(1)
		dropped := sp.queue.len()
		sp.End(nil, true)
		s.reportSlow(sp, SlowConsumerEvent{Policy: SlowConsumerClose, Dropped: dropped})
	}
	return fo.n
}
