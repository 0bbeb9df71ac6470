package nats

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/allspark/allspark"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Room history on JetStream (docs/recovery.md, "NATS"). Each history
// policy has a stream (jetstream.go) holding, per room subject, the room's
// last Size messages; each message carries its position in a header
// (history_codec.go). A write takes the room's next offset by publishing
// with Nats-Expected-Last-Subject-Sequence set to the sequence of the
// room's last message: JetStream stores it only if no other write came in
// between, so two nodes can never both take offset n, and a lost race is
// retried on the fresh last message. The stream republishes every stored
// message, in stream order, on the room's core subject, which every node
// with members of the room subscribes to: all nodes, the writer's
// included, see a room's messages in offset order.

// Bounds of history.
const (
	// MaxHistoryRead caps the entries one History call returns, whatever
	// HistoryQuery.Limit and HistoryPolicy.Size say: 100,000.
	MaxHistoryRead = 100_000
	// maxPublishAttempts bounds a write's attempts after losing the race
	// for its offset, and so does Options.WriteTimeout counted from the
	// first; past either the write fails with ErrHistoryConflict.
	maxPublishAttempts = 256
	// maxReadAttempts bounds the rounds of a read that meets writes
	// while it marks a room's epoch, and of a session take.
	maxReadAttempts = 32
	// maxConflictBackoff bounds the random pause after a lost race. A
	// loser learns the winner's position about when the winner, whose
	// cache is current, sends its next write, so without a random pause a
	// node writing a busy room nonstop could starve the other nodes'
	// writers (measured on nats-server 2.9.10: 32 losses in a row).
	maxConflictBackoff = 2 * time.Millisecond
	// conflictWait is how long a write that lost the race waits for the
	// winner's republished message before reading the room back.
	conflictWait = time.Millisecond
	// maxCachedRooms bounds a Broker's cache of room positions; when it
	// is full the cache is emptied (positions are re-read on demand).
	maxCachedRooms = 65536
	// maxWalk is the most entries a read fetches one by one (walk)
	// rather than through a consumer (scan): up to it, direct gets cost
	// less than creating, reading and deleting a consumer.
	maxWalk = 8
)

// roomState is what a node knows of a room's subject: the stream sequence
// of its last message (0: none) and that message's position (the zero
// Position for none, or for a message no node wrote).
type roomState struct {
	seq uint64
	pos allspark.Position
}

// next is the position of the message written after st: the next offset
// of its epoch, or offset 1 of a fresh epoch for a room without one (never
// written, expired, purged, its stream recreated).
func (st roomState) next() allspark.Position {
	if st.pos.Epoch == "" {
		return allspark.Position{Offset: 1, Epoch: allspark.NewEpoch()}
	}
	return allspark.Position{Offset: st.pos.Offset + 1, Epoch: st.pos.Epoch}
}

// roomCache is a Broker's last known state of room subjects, so that a
// write costs one round trip when this node wrote the room last, and a
// write that lost a race learns the winner's position from its
// republished message (observe). States only move forward (a later
// stream sequence), whatever order the acknowledgements and republished
// messages come in; a recreated stream, whose sequences start over,
// clears the cache.
type roomCache struct {
	mu      sync.Mutex
	m       map[string]roomState
	changed chan struct{} // closed and replaced on every change
}

func (c *roomCache) get(subject string) (roomState, bool) {
	c.mu.Lock()
	st, ok := c.m[subject]
	c.mu.Unlock()
	return st, ok
}

// advance stores st unless the cache already holds a later state of the
// subject.
func (c *roomCache) advance(subject string, st roomState) {
	c.mu.Lock()
	if cur, ok := c.m[subject]; !ok || cur.seq < st.seq {
		if len(c.m) >= maxCachedRooms {
			clear(c.m)
		}
		c.m[subject] = st
		if c.changed != nil {
			close(c.changed)
			c.changed = nil
		}
	}
	c.mu.Unlock()
}

// wait returns a channel closed at the next change.
func (c *roomCache) wait() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.changed
}

// observe takes the state of a room's subject from a message its stream
// republished (the stream subject and sequence are in the Nats-Subject
// and Nats-Sequence headers JetStream adds).
func (s *jsState) observe(hdr natsgo.Header, pos allspark.Position) {
	subject := hdr.Get(jetstream.SubjectHeader)
	seq, err := strconv.ParseUint(hdr.Get(jetstream.SequenceHeader), 10, 64)
	if subject == "" || err != nil || seq == 0 {
		return
	}
	s.rooms.observed(subject, roomState{seq: seq, pos: pos})
}

// observed is advance for a republished message, which also replaces a
// state of another epoch whatever its sequence: republished messages come
// in stream order, so one in a new epoch means the stream was recreated
// (its sequences started over) by another node, and this node's cached
// sequence might otherwise match the new stream's by chance.
func (c *roomCache) observed(subject string, st roomState) {
	c.mu.Lock()
	cur, ok := c.m[subject]
	newEpoch := ok && cur.pos.Epoch != st.pos.Epoch
	c.mu.Unlock()
	if newEpoch {
		c.forget(subject)
	}
	c.advance(subject, st)
}

// caughtUp waits up to conflictWait for the cache to hold a state of
// subject later than sequence seq, which the republished message of the
// write that won usually brings about as soon as the conflict is known.
func (s *jsState) caughtUp(ctx context.Context, subject string, seq uint64) bool {
	timer := time.NewTimer(conflictWait)
	defer timer.Stop()
	for {
		changed := s.rooms.wait()
		if cur, ok := s.rooms.get(subject); ok && cur.seq > seq {
			return true
		}
		select {
		case <-changed:
		case <-timer.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (c *roomCache) forget(subject string) {
	c.mu.Lock()
	delete(c.m, subject)
	c.mu.Unlock()
}

func (c *roomCache) clear() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

// PublishHistory implements allspark.HistoryBroker: p takes its room's
// next offset and is stored in the room's subject of pol's stream, which
// republishes it to every node with members of the room, this Broker's
// own nodes included, with p.Pos set, in offset order. It returns the
// position and 0 deliveries: delivery is asynchronous.
//
// A write that fails returns an error and was not stored, except after a
// timeout waiting for JetStream's acknowledgement, when it may have been
// (like any JetStream publish); its position is then simply used.
func (h *HistoryBroker) PublishHistory(ctx context.Context, p *allspark.Publication, pol allspark.HistoryPolicy) (allspark.Position, int, error) {
	if p.All || len(p.Rooms) != 1 || len(p.Sparks) != 0 {
		return allspark.Position{}, 0, allspark.ErrHistoryTarget
	}
	if !pol.On() {
		return allspark.Position{}, 0, allspark.ErrNoHistory
	}
	if err := h.check(ctx); err != nil {
		return allspark.Position{}, 0, err
	}
	s := h.hist
	hs, st, err := s.policyStream(ctx, pol)
	if err != nil {
		return allspark.Position{}, 0, err
	}
	if p.Pos.Offset != 0 || p.Pos.Epoch != "" {
		q := *p // the stream assigns positions: a stale one is not stored
		q.Pos = allspark.Position{}
		p = &q
	}
	subject := h.subj.named(hs.kind, p.Rooms[0])
	buf := h.getBuf()
	*buf = allspark.MarshalPublication((*buf)[:0], p)
	defer h.putBuf(buf)
	if max := h.nc.MaxPayload(); int64(len(*buf)+128) > max {
		h.errors.Add(1)
		return allspark.Position{}, 0, fmt.Errorf("nats broker: publish history: %d bytes: %w", len(*buf), natsgo.ErrMaxPayload)
	}

	// One node's writes to a room go one at a time: they would only
	// conflict with each other.
	lock := &s.locks[subjectHash(subject)%uint32(len(s.locks))]
	lock.Lock()
	defer lock.Unlock()
	deadline := time.Now().Add(h.opts.WriteTimeout)
	for attempt := range maxPublishAttempts {
		if attempt > 0 {
			if time.Now().After(deadline) {
				break
			}
			// Lost: retry at a random moment, so that this writer does not
			// meet the winner's next write in lockstep.
			if err := conflictPause(ctx, attempt); err != nil {
				return allspark.Position{}, 0, err
			}
		}
		cur, ok := s.rooms.get(subject)
		if !ok {
			cur, err = s.last(ctx, st, subject)
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				if err = s.recreate(ctx, hs); err != nil {
					return allspark.Position{}, 0, err
				}
				st = hs.stream.Load().s
				continue
			}
			if err != nil {
				return allspark.Position{}, 0, err
			}
		}
		pos := cur.next()
		seq, err := s.append(ctx, subject, pos, *buf, cur.seq)
		switch {
		case err == nil:
			s.rooms.advance(subject, roomState{seq: seq, pos: pos})
			h.published.Add(1)
			return pos, 0, nil
		case isWrongLast(err):
			// Another node wrote the room since: take its position from
			// the republished message when this node has members of the
			// room, else read the last message back.
			s.conflicts.Add(1)
			if !s.caughtUp(ctx, subject, cur.seq) {
				s.rooms.forget(subject)
			}
		case errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, natsgo.ErrNoResponders):
			// No stream takes the subject any more: it was deleted.
			if err = s.recreate(ctx, hs); err != nil {
				return allspark.Position{}, 0, err
			}
			st = hs.stream.Load().s
		default:
			return allspark.Position{}, 0, s.jsError("publish history", err)
		}
	}
	h.errors.Add(1)
	return allspark.Position{}, 0, ErrHistoryConflict
}

// conflictPause waits a random time, growing with attempt up to
// maxConflictBackoff, before a retried write.
func conflictPause(ctx context.Context, attempt int) error {
	ceiling := min(maxConflictBackoff, time.Duration(1<<min(attempt, 10))*25*time.Microsecond)
	t := time.NewTimer(time.Duration(mrand.Int64N(int64(ceiling)) + 1))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// append stores one message at pos on subject, provided the subject's
// last message is still at sequence after (0: the subject is empty), and
// returns its sequence.
func (s *jsState) append(ctx context.Context, subject string, pos allspark.Position, data []byte, after uint64) (uint64, error) {
	msg := &natsgo.Msg{Subject: subject, Data: data, Header: natsgo.Header{
		posHeader:  []string{formatPos(pos)},
		prevHeader: []string{strconv.FormatUint(after, 10)},
	}}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithExpectLastSequencePerSubject(after))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// isWrongLast reports a refused Nats-Expected-Last-Subject-Sequence.
func isWrongLast(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return false
}

// last reads the state of subject from its last message (a direct get).
func (s *jsState) last(ctx context.Context, st jetstream.Stream, subject string) (roomState, error) {
	m, err := s.lastMsg(ctx, st, subject)
	if err != nil || m == nil {
		return roomState{}, err
	}
	return stateOf(m), nil
}

func (s *jsState) lastMsg(ctx context.Context, st jetstream.Stream, subject string) (*jetstream.RawStreamMsg, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	m, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, natsgo.ErrNoResponders) {
			return nil, jetstream.ErrStreamNotFound
		}
		return nil, s.jsError("read history", err)
	}
	return m, nil
}

// stateOf reads a stored message's state. A message without a valid
// position (not written by a node) counts as none: the next write starts
// a new epoch after it.
func stateOf(m *jetstream.RawStreamMsg) roomState {
	st := roomState{seq: m.Sequence}
	if pos, ok, err := headerPos(m.Header); ok && err == nil {
		st.pos = pos
	}
	return st
}

// History implements allspark.HistoryBroker: the room's position and its
// entries after q.After, oldest first, at most q.Limit (or pol.Size when
// q.Limit is 0) and never more than MaxHistoryRead. Entries older than
// pol.TTL are not returned, though the room's last message is kept for the
// meta TTL so that its position outlives them. A room without a position
// (never written, or its last message outlived the meta TTL) gets a fresh
// epoch and Top.Offset 0, recorded by a marker message so that every node
// reads the same epoch until the first write.
//
// Unlike the memory and Redis brokers, a read does not extend the meta
// TTL: it counts from the room's last write (or marker).
func (h *HistoryBroker) History(ctx context.Context, room string, q allspark.HistoryQuery, pol allspark.HistoryPolicy) (allspark.HistoryResult, error) {
	if !pol.On() {
		return allspark.HistoryResult{}, allspark.ErrNoHistory
	}
	if err := h.check(ctx); err != nil {
		return allspark.HistoryResult{}, err
	}
	s := h.hist
	hs, st, err := s.policyStream(ctx, pol)
	if err != nil {
		return allspark.HistoryResult{}, err
	}
	subject := h.subj.named(hs.kind, room)
	var last *jetstream.RawStreamMsg
	var cur roomState
	for attempt := 0; ; attempt++ {
		if attempt == maxReadAttempts {
			return allspark.HistoryResult{}, ErrHistoryConflict
		}
		last, err = s.lastMsg(ctx, st, subject)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			if err = s.recreate(ctx, hs); err != nil {
				return allspark.HistoryResult{}, err
			}
			st = hs.stream.Load().s
			continue
		}
		if err != nil {
			return allspark.HistoryResult{}, err
		}
		if last != nil {
			cur = stateOf(last)
			if cur.pos.Epoch != "" {
				break
			}
		}
		// No position: record a fresh epoch at offset 0, unless another
		// node writes first (then read again).
		mark := allspark.Position{Offset: 0, Epoch: allspark.NewEpoch()}
		seq, err := s.append(ctx, subject, mark, nil, cur.seq)
		if err == nil {
			s.rooms.advance(subject, roomState{seq: seq, pos: mark})
			return allspark.HistoryResult{Top: mark}, nil
		}
		if !isWrongLast(err) {
			return allspark.HistoryResult{}, s.jsError("mark history", err)
		}
	}
	s.rooms.advance(subject, cur)
	res := allspark.HistoryResult{Top: cur.pos}
	limit := q.Limit
	if limit <= 0 || limit > pol.Size {
		limit = pol.Size
	}
	limit = min(limit, MaxHistoryRead)
	cutoff := time.Now().Add(-pol.TTL)
	if q.After >= cur.pos.Offset || limit == 0 || !last.Time.After(cutoff) {
		return res, nil // nothing after q.After, or all of it expired
	}
	if missed := cur.pos.Offset - q.After; missed <= maxWalk {
		res.Entries, err = s.walk(ctx, st, subject, last, cur.pos, cutoff, int(missed))
		if err != nil {
			return allspark.HistoryResult{}, err
		}
		if len(res.Entries) > limit {
			res.Entries = res.Entries[:limit]
		}
		return res, nil
	}
	res.Entries, err = s.scan(ctx, st, subject, cutoff, q.After, limit, pol.Size, last.Sequence, cur.pos.Epoch)
	if err != nil {
		return allspark.HistoryResult{}, err
	}
	return res, nil
}

// walk returns the last n entries of subject, oldest first, by following
// each message's prevHeader back from last (at pos) with direct gets: n
// round trips less one, and no consumer. It stops early, returning fewer,
// at a message that is gone (pushed out by Size), older than cutoff, a
// marker, or not the offset before: what is missing is not kept.
func (s *jsState) walk(ctx context.Context, st jetstream.Stream, subject string, last *jetstream.RawStreamMsg, pos allspark.Position, cutoff time.Time, n int) ([]allspark.HistoryEntry, error) {
	out := make([]allspark.HistoryEntry, 0, n)
	m := last
	for {
		e, err := entryOf(m, pos)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if len(out) == n || pos.Offset == 1 {
			break
		}
		prev, err := strconv.ParseUint(m.Header.Get(prevHeader), 10, 64)
		if err != nil || prev == 0 || prev >= m.Sequence {
			break
		}
		gctx, cancel := s.opContext(ctx)
		m, err = st.GetMsg(gctx, prev)
		cancel()
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, s.jsError("read history", err)
		}
		p, ok, perr := headerPos(m.Header)
		if m.Subject != subject || !ok || perr != nil || p.Epoch != pos.Epoch || p.Offset != pos.Offset-1 || !m.Time.After(cutoff) {
			break
		}
		pos = p
	}
	slices.Reverse(out)
	return out, nil
}

// scan reads subject's messages stored since cutoff and up to sequence
// top with a short-lived consumer, and returns those after offset after,
// at most limit. The consumer is ephemeral (deleted at the end, or by the
// server after a minute of inactivity) and reads at most the policy's
// Size messages plus the marker, so the work is bounded.
func (s *jsState) scan(ctx context.Context, st jetstream.Stream, subject string, cutoff time.Time, after uint64, limit, size int, top uint64, epoch string) ([]allspark.HistoryEntry, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	cons, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{
		FilterSubject:     subject,
		DeliverPolicy:     jetstream.DeliverByStartTimePolicy,
		OptStartTime:      &cutoff,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
		Replicas:          1,
	})
	if err != nil {
		return nil, s.jsError("read history", err)
	}
	defer func() {
		dctx, dcancel := context.WithTimeout(context.Background(), s.b.opts.WriteTimeout)
		_ = st.DeleteConsumer(dctx, cons.CachedInfo().Name) // else the server drops it when inactive
		dcancel()
	}()
	// Every message kept since cutoff comes in one batch: at most the
	// policy's Size, and the marker.
	batch, err := cons.FetchNoWait(min(size, MaxHistoryRead) + 1)
	if err != nil {
		return nil, s.jsError("read history", err)
	}
	var out []allspark.HistoryEntry
	last := after
	for m := range batch.Messages() {
		meta, err := m.Metadata()
		if err != nil || meta.Sequence.Stream > top {
			break
		}
		pos, ok, err := headerPos(m.Headers())
		if ok && err == nil && pos.Epoch == epoch && pos.Offset > last && len(out) < limit {
			e, err := historyEntry(pos, m.Data())
			if err != nil {
				return nil, err
			}
			out = append(out, e)
			last = pos.Offset
		}
		if meta.Sequence.Stream == top || meta.NumPending == 0 {
			break
		}
	}
	if err := batch.Error(); err != nil && len(out) == 0 && !errors.Is(err, jetstream.ErrNoMessages) {
		return nil, s.jsError("read history", err)
	}
	return out, nil
}

// entryOf reads a stored message as an entry at pos.
func entryOf(m *jetstream.RawStreamMsg, pos allspark.Position) (allspark.HistoryEntry, error) {
	return historyEntry(pos, m.Data)
}

func historyEntry(pos allspark.Position, data []byte) (allspark.HistoryEntry, error) {
	p, err := decodeHistory(pos, data)
	if err != nil {
		return allspark.HistoryEntry{}, err
	}
	return allspark.HistoryEntry{Pos: pos, Payload: p.Payload, Binary: p.Binary, Value: p.Value, Except: p.Except}, nil
}

// subjectHash spreads subjects over the write locks.
func subjectHash(subject string) uint32 {
	f := fnv.New32a()
	_, _ = f.Write([]byte(subject))
	return f.Sum32()
}
