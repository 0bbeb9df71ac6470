package client

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Recovery (docs/recovery.md in the repository): the client asks for a
// session on its first connection and keeps the position of every room
// whose messages the server stamps; a reconnect presents the session token
// and those positions, and the server gives the spark back (restored) and
// replays what the client missed (recovered), or says plainly that it
// cannot. Per room the client delivers each offset once, in order: a
// duplicate is dropped, and a gap or a new epoch makes it reconnect at once
// so that the server fills the gap (a resync).

// RecoveryInfo is what the server said about a connection that just opened
// (its session envelope), passed to Options.OnSession.
type RecoveryInfo struct {
	// ID is the spark id.
	ID string
	// Restored: the spark came back — its id, rooms, user and Set values.
	Restored bool
	// Recovered: every message of its history rooms published since the
	// client's positions follows now, in order, then live messages. False:
	// nothing is replayed, and the application must reload its state.
	Recovered bool
	// Reason says why not recovered: ReasonNew, ReasonExpired,
	// ReasonEpoch, ReasonTruncated, ReasonLimit, ReasonUnavailable,
	// ReasonNoHistory.
	Reason string
	// Resumed: this connection presented an earlier one's session (a
	// reconnect).
	Resumed bool
}

// Unrecovered reports the "reload your state" signal: a reconnect after
// which the messages missed meanwhile will not come (the JS client's
// 'unrecovered' event).
func (r RecoveryInfo) Unrecovered() bool { return r.Resumed && !r.Recovered }

// Reasons of RecoveryInfo.
const (
	ReasonNew         = "new"         // no session presented: a first connection
	ReasonExpired     = "expired"     // the session is unknown, expired or ended
	ReasonEpoch       = "epoch"       // a room's history was lost (its epoch changed)
	ReasonTruncated   = "truncated"   // the client's position is older than the oldest message kept
	ReasonLimit       = "limit"       // more was missed than the server replays at once
	ReasonUnavailable = "unavailable" // the history store failed
	ReasonNoHistory   = "no_history"  // the spark is in no room with history: nothing says what was missed
)

// resyncWindow: a resync within this long of the previous one backs off
// (the first reconnects at once), so a server that keeps skipping offsets
// gets no reconnect storm.
const resyncWindow = 5 * time.Second

// recoverState is the client's side of its session. Guarded by Client.mu.
type recoverState struct {
	token    string // the server's session token; "" before the first session and after End
	resuming bool   // the connection under way presented the token
	last     RecoveryInfo
	pos      positions
	resyncAt time.Time // the last resync
	resyncs  int       // resyncs in a row, each within resyncWindow of the one before
}

// endEnvelope is what End sends before closing when the client has a
// session: the server then deletes it, so its token is worthless at once.
var endEnvelope = map[string]any{"allspark": 1, "end": true}

// forget drops the session after a clean end: the server has ended it for
// good, so the next Open is a first connection.
func (r *recoverState) forget() {
	r.token = ""
	r.pos.clear()
}

// roomPos is the last position of one room; seq orders updates, so that the
// least recently updated room is the one forgotten.
type roomPos struct {
	offset uint64
	epoch  string
	seq    uint64
}

// positions holds at most maxRecoverRooms rooms' positions.
type positions struct {
	rooms map[string]roomPos
	seq   uint64
}

// verdict is what to do with a stamped message.
type verdict uint8

const (
	deliver   verdict = iota + 1 // the next offset, or a room without a position
	duplicate                    // at or below the position: drop
	gap                          // past the next offset: resync
	newEpoch                     // another epoch: resync
)

func (p *positions) judge(room string, offset uint64, epoch string) verdict {
	pos, ok := p.rooms[room]
	switch {
	case !ok:
		return deliver
	case pos.epoch != epoch:
		return newEpoch
	case offset <= pos.offset:
		return duplicate
	case offset > pos.offset+1:
		return gap
	}
	return deliver
}

// set records room's position, forgetting the least recently updated room
// when a new one would pass the bound.
func (p *positions) set(room string, offset uint64, epoch string) {
	if p.rooms == nil {
		p.rooms = make(map[string]roomPos)
	}
	if _, ok := p.rooms[room]; !ok && len(p.rooms) >= maxRecoverRooms {
		oldest, first := "", true
		for r, pos := range p.rooms {
			if first || pos.seq < p.rooms[oldest].seq {
				oldest, first = r, false
			}
		}
		delete(p.rooms, oldest)
	}
	p.seq++
	p.rooms[room] = roomPos{offset: offset, epoch: epoch, seq: p.seq}
}

// announce takes a position announcement, unless it would move the
// position back within one epoch.
func (p *positions) announce(room string, offset uint64, epoch string) {
	if pos, ok := p.rooms[room]; ok && pos.epoch == epoch && offset < pos.offset {
		return
	}
	p.set(room, offset, epoch)
}

func (p *positions) clear() { p.rooms = nil }

// since is the _since query value, {"room":[offset,"epoch"],...}: the most
// recently updated rooms first, as many as fit in maxSinceLen; "" for none.
func (p *positions) since() string {
	rooms := make([]string, 0, len(p.rooms))
	for r := range p.rooms {
		rooms = append(rooms, r)
	}
	slices.SortFunc(rooms, func(a, b string) int { return cmp.Compare(p.rooms[b].seq, p.rooms[a].seq) })
	var b strings.Builder
	b.WriteByte('{')
	for _, r := range rooms {
		pos := p.rooms[r]
		name, _ := json.Marshal(r) // valid UTF-8 (boundedString): exact
		epoch, _ := json.Marshal(pos.epoch)
		part := string(name) + ":[" + strconv.FormatUint(pos.offset, 10) + "," + string(epoch) + "]"
		sep := 0
		if b.Len() > 1 {
			sep = 1
		}
		if b.Len()+sep+len(part)+1 > maxSinceLen {
			break
		}
		if sep == 1 {
			b.WriteByte(',')
		}
		b.WriteString(part)
	}
	if b.Len() == 1 {
		return ""
	}
	b.WriteByte('}')
	return b.String()
}

// recoverQueryLocked is the recovery query of the connection about to be
// dialed: _recover=1 on a first connection, then _session and _since.
func (c *Client) recoverQueryLocked() url.Values {
	r := &c.rs
	r.resuming = false
	if c.opts.NoRecover {
		return nil
	}
	if r.token == "" {
		return url.Values{"_recover": {"1"}}
	}
	r.resuming = true
	q := url.Values{"_session": {r.token}}
	if s := r.pos.since(); s != "" {
		q.Set("_since", s)
	}
	return q
}

// Recovered reports what the last session envelope said: every message
// missed while disconnected was replayed (false before the first one, and
// on a server without sessions). See RecoveryInfo.
func (c *Client) Recovered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rs.last.Recovered
}

// Restored reports what the last session envelope said: the spark came
// back with its id, rooms, user and Set values.
func (c *Client) Restored() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rs.last.Restored
}

// recoverLocked handles a recovery envelope, a message of size wire bytes
// from connection gen. c.mu is held.
func (c *Client) recoverLocked(gen uint64, size int, m recoverMsg) {
	if m.kind == recoverBad {
		c.queueEventLocked(gen, size, Event{Kind: EventError, Err: &CallError{Code: CodeBadEnvelope, Message: "malformed recovery envelope: " + m.reason}})
		return
	}
	if c.opts.NoRecover {
		// Not asked for, so not expected; a stamped message is still the
		// message it carries.
		if m.kind == recoverStamped {
			c.deliverLocked(gen, size, m.data)
		}
		return
	}
	r := &c.rs
	switch m.kind {
	case recoverSession:
		info := m.session
		info.Resumed = r.resuming
		r.resuming = false
		r.token = m.token
		r.last = info
		if !info.Recovered {
			// Nothing is replayed: old positions would misjudge the
			// server's fresh ones (its announcements follow).
			r.pos.clear()
		}
		c.sessionEventLocked(gen, size, info)
	case recoverPosition:
		r.pos.announce(m.room, m.offset, m.epoch)
	case recoverStamped:
		switch r.pos.judge(m.room, m.offset, m.epoch) {
		case deliver:
			// Room first: a message discarded with its connection while
			// the reader waited must not count as received.
			if ok, _ := c.admitLocked(gen); !ok {
				return
			}
			r.pos.set(m.room, m.offset, m.epoch)
			c.deliverLocked(gen, size, m.data)
		case duplicate:
		case gap:
			c.resyncLocked(fmt.Errorf("%w: room %q: offset %d after %d", ErrResync, m.room, m.offset, r.pos.rooms[m.room].offset))
		case newEpoch:
			c.resyncLocked(fmt.Errorf("%w: room %q: epoch %q after %q", ErrResync, m.room, m.epoch, r.pos.rooms[m.room].epoch))
		}
	}
}

// deliverLocked hands a message to the application as one arriving bare: a
// named event or ack to its handling, anything else as EventData.
func (c *Client) deliverLocked(gen uint64, size int, v any) {
	if !c.envelopeLocked(gen, size, v) {
		c.queueEventLocked(gen, size, Event{Kind: EventData, Data: v})
	}
}

// resyncLocked drops the open connection, whose stream skipped ahead or
// changed epoch, and reconnects: at once for the first resync of a run,
// with the back-off for quick repeats; per StrategyDisconnect, like a drop.
func (c *Client) resyncLocked(cause error) {
	delay := time.Duration(0)
	if now := time.Now(); now.Sub(c.rs.resyncAt) < resyncWindow {
		c.rs.resyncs++
		delay = backoff(c.opts.Reconnect, c.rs.resyncs-1, rand.Float64())
		c.rs.resyncAt = now
	} else {
		c.rs.resyncs, c.rs.resyncAt = 1, now
	}
	c.lostLocked(cause, delay)
}
