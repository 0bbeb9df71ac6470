package allspark

import (
	"sync"
	"time"

	"github.com/allspark/allspark/internal/primus"
	"github.com/allspark/allspark/internal/transport"
)

// heartbeat is one goroutine per server (not a timer per spark) that pings
// every spark each PingInterval, as Primus does: a spark that has not
// answered the previous ping is ended with reconnect (no server::close, so
// the client comes back); the others get "primus::ping::<ms>", encoded once
// per tick. It starts with the first connection and stops at Shutdown.
//
// The sparks are spread over heartbeatSlots slots, one slot pinged per
// PingInterval/slots. A new spark joins one of the half of the slots whose
// turn is furthest away (round robin over that half), so its first ping
// comes between half a PingInterval and one after it connected (Primus
// pings a spark one interval after it connected; a stock client waits
// 45 s for a ping) and a burst of connects is still spread over 32 slots.
// Pinging every spark at once starts a writer goroutine for each at the
// same moment, and the runtime keeps every goroutine it ever had at once
// (a ~400-byte g each, for the life of the process), so one heartbeat of
// 50,000 sparks would leave 20 MB behind. Each spark is still pinged once
// per PingInterval.
type heartbeat struct {
	once sync.Once
	stop chan struct{}
	done chan struct{}
}

func (h *heartbeat) ensure(s *Server) {
	if s.opts.PingInterval <= 0 {
		return
	}
	h.once.Do(func() {
		s.mu.Lock()
		closing := s.closing
		s.mu.Unlock()
		if closing {
			return
		}
		h.stop = make(chan struct{})
		h.done = make(chan struct{})
		go h.run(s)
	})
}

// halt stops the goroutine (if it ever started) and waits for it.
func (h *heartbeat) halt() {
	h.once.Do(func() {}) // a later ensure must not start it
	if h.stop == nil {
		return
	}
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
	<-h.done
}

func (h *heartbeat) run(s *Server) {
	defer close(h.done)
	slots := heartbeatSlots(s.opts.PingInterval)
	t := time.NewTicker(s.opts.PingInterval / time.Duration(slots))
	defer t.Stop()
	var dead []*Spark
	for slot := 0; ; slot = (slot + 1) % slots {
		select {
		case <-h.stop:
			return
		case now := <-t.C:
			dead = s.pingSlot(now, slot, slots, dead[:0])
		}
	}
}

// heartbeatSlots is how many slots the sparks are spread over: 64, or fewer
// so that a slot's turn comes no more often than every 20 ms.
func heartbeatSlots(interval time.Duration) int {
	return min(64, max(1, int(interval/(20*time.Millisecond))))
}

// heartbeatSlotFor is a new spark's slot: one of the half of the slots
// pinged last from now on, round robin.
func (s *Server) heartbeatSlotFor() uint8 {
	slots := heartbeatSlots(s.opts.PingInterval)
	half := slots / 2
	ahead := half + 1 + int(s.hbNext.Add(1)%uint32(slots-half)) // in half+1..slots
	return uint8((int(s.hbLast.Load()) + ahead) % slots)
}

// pingSlot ends the sparks of slot (of slots) that missed their last ping
// and pings the rest. buf is reused between ticks to keep the tick
// allocation-free.
func (s *Server) pingSlot(now time.Time, slot, slots int, buf []*Spark) []*Spark {
	s.hbLast.Store(uint32(slot))
	inSlot := func(sp *Spark) bool { return int(sp.hbSlot)%slots == slot }
	f, err := s.encode(primus.PingMessage(now.UnixMilli()))
	if err != nil {
		s.opts.Logger.Error("encoding ping", "err", err)
		return buf
	}
	f.Control = transport.Ping
	s.mu.RLock()
	for _, sp := range s.sparks {
		if sp.ownHeartbeat || !inSlot(sp) {
			continue
		}
		if !sp.alive.Swap(false) {
			buf = append(buf, sp)
		}
	}
	s.mu.RUnlock()
	for _, sp := range buf {
		s.stats.missedPongs.Add(1)
		s.opts.Logger.Debug("missed pong", "spark", sp.id)
		sp.setReason(ReasonPingTimeout)
		sp.End(nil, true)
	}
	var filter func(*Spark) bool
	switch {
	case slots > 1:
		filter = func(sp *Spark) bool { return !sp.ownHeartbeat && inSlot(sp) }
	case s.ownHeartbeats.Load() > 0:
		filter = primusHeartbeat
	}
	s.fanout(f, filter)
	clear(buf)
	return buf
}

// primusHeartbeat selects the sparks the Primus heartbeat pings.
func primusHeartbeat(sp *Spark) bool { return !sp.ownHeartbeat }
