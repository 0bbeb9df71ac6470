package eio

import (
	"sync/atomic"
	"time"
)

// heartbeat is a session's ping timer, as in the reference: a ping "2"
// every PingInterval; without a pong "3" within PingTimeout the session
// ends with ErrPingTimeout. Any other packet while a pong is awaited
// extends the wait once (a busy client's pong may sit behind its data).
// One timer per session; its callback runs only when it fires.
type heartbeat struct {
	timer *time.Timer
	// awaiting: a ping is out, no pong yet. Written under session.mu;
	// read without it by sawPacket, so the common case (no ping out) costs
	// a message no lock.
	awaiting  atomic.Bool
	refreshed bool // the wait was extended once already
}

// start arms the first ping. Called once the session is open.
func (hb *heartbeat) start(s *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return
	}
	hb.timer = time.AfterFunc(s.srv.cfg.PingInterval, s.onHeartbeat)
}

// stop disarms the timer; s.mu is held.
func (hb *heartbeat) stop() {
	if hb.timer != nil {
		hb.timer.Stop()
	}
}

// onHeartbeat is the timer: ping, or end the session whose pong is late.
func (s *session) onHeartbeat() {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	hb := &s.heartbeat
	if hb.awaiting.Load() {
		s.mu.Unlock()
		s.finish(ErrPingTimeout)
		return
	}
	hb.awaiting.Store(true)
	hb.refreshed = false
	hb.timer.Reset(s.srv.cfg.PingTimeout)
	ws := s.ws
	if ws == nil {
		s.queueCtrlLocked(Ping)
	}
	s.mu.Unlock()
	if ws != nil {
		_ = ws.WriteMessage(false, []byte{'0' + byte(Ping)})
	}
}

// pong records the client's answer and schedules the next ping.
func (hb *heartbeat) pong(s *session) {
	s.mu.Lock()
	if hb.awaiting.Load() && s.state != stateClosed {
		hb.awaiting.Store(false)
		hb.timer.Reset(s.srv.cfg.PingInterval)
	}
	s.mu.Unlock()
}

// sawPacket extends the pong wait once for a packet other than a pong.
func (hb *heartbeat) sawPacket(s *session, t Type) {
	if t == Pong || !hb.awaiting.Load() {
		return
	}
	s.mu.Lock()
	if hb.awaiting.Load() && !hb.refreshed && s.state != stateClosed {
		hb.refreshed = true
		hb.timer.Reset(s.srv.cfg.PingTimeout)
	}
	s.mu.Unlock()
}
