package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/allspark/allspark"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Sessions (allspark.SessionStore) live in one stream, <prefix>_sessions
// (its name derived as the history streams' are), one subject per session
// id, <prefix>.s.<id token>, keeping only the last message of each. A
// record carries its expiry in a header, checked when it is taken; the
// stream's MaxAge (Options.SessionMaxAge) removes records no node took,
// and on servers with per-message TTLs (2.11+) each record also gets its
// own, so NATS drops it at its expiry. TakeSession reads the record, then
// deletes that very message by its sequence: only one delete of a message
// succeeds, so two nodes taking one session cannot both get it.

// Bounds of the session store.
const (
	// MaxSessionRecord bounds a record: SaveSession refuses a larger one
	// with ErrSessionTooLarge.
	MaxSessionRecord = 1 << 20
	// maxSessionID bounds an id: ids come from tokens clients present.
	maxSessionID = 256
)

// expiresHeader holds a record's expiry, Unix milliseconds.
const expiresHeader = "Allspark-Expires"

// sessionStream returns the session stream, creating it on first use, and
// whether its records may carry per-message TTLs (a 2.11+ server, and a
// stream that allows them: one made earlier without them is used as it
// is).
func (s *jsState) sessionStream(ctx context.Context) (jetstream.Stream, bool, error) {
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if s.sessions == nil {
		st, err := s.ensure(ctx, s.sessionConfig())
		if err != nil {
			return nil, false, err
		}
		s.sessions = st
	}
	ttl := false
	if info := s.sessions.CachedInfo(); info != nil {
		ttl = s.msgTTL && info.Config.AllowMsgTTL
	}
	return s.sessions, ttl, nil
}

func (s *jsState) sessionConfig() jetstream.StreamConfig {
	age := s.b.opts.SessionMaxAge
	return jetstream.StreamConfig{
		Name:              s.base + "_sessions",
		Subjects:          []string{s.b.opts.Prefix + ".s.*"},
		Retention:         jetstream.LimitsPolicy,
		MaxMsgsPerSubject: 1,
		Discard:           jetstream.DiscardOld,
		MaxAge:            age,
		Duplicates:        min(age, 2*time.Minute),
		Storage:           s.storage(),
		Replicas:          s.b.opts.HistoryReplicas,
		AllowDirect:       true,
		AllowMsgTTL:       s.msgTTL,
	}
}

// sessionLost drops the cached session stream after it was deleted, so the
// next call makes it again.
func (s *jsState) sessionLost(st jetstream.Stream) {
	s.sessMu.Lock()
	if s.sessions == st {
		s.sessions = nil
	}
	s.sessMu.Unlock()
}

func validSessionID(id string) bool { return id != "" && len(id) <= maxSessionID }

// SaveSession implements allspark.SessionStore.
func (h *HistoryBroker) SaveSession(ctx context.Context, id string, record []byte, ttl time.Duration) error {
	if err := h.check(ctx); err != nil {
		return err
	}
	if !validSessionID(id) || ttl <= 0 || ttl > h.opts.SessionMaxAge {
		return ErrBadSession
	}
	if len(record) > MaxSessionRecord {
		return fmt.Errorf("%w: %d bytes", ErrSessionTooLarge, len(record))
	}
	s := h.hist
	msg := &natsgo.Msg{
		Subject: h.subj.named(".s.", id),
		Data:    record,
		Header:  natsgo.Header{expiresHeader: []string{strconv.FormatInt(time.Now().Add(ttl).UnixMilli(), 10)}},
	}
	for attempt := 0; ; attempt++ {
		st, msgTTL, err := s.sessionStream(ctx)
		if err != nil {
			return err
		}
		var opts []jetstream.PublishOpt
		if msgTTL {
			// Whole seconds, rounded up, and a second more: the expiry
			// header decides; the TTL only removes what nobody took.
			opts = append(opts, jetstream.WithMsgTTL(ttl.Round(time.Second)+time.Second))
		}
		pctx, cancel := s.opContext(ctx)
		_, err = s.js.PublishMsg(pctx, msg, opts...)
		cancel()
		if err == nil {
			return nil
		}
		if attempt == 0 && (errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, natsgo.ErrNoResponders)) {
			s.sessionLost(st) // the stream was deleted: make it again
			continue
		}
		return s.jsError("save session", err)
	}
}

// TakeSession implements allspark.SessionStore: the record is read, then
// its message deleted by sequence; a taker whose delete fails lost the
// race (or met a newer save, and reads again).
func (h *HistoryBroker) TakeSession(ctx context.Context, id string) ([]byte, error) {
	if !validSessionID(id) {
		return nil, allspark.ErrNoSession
	}
	if err := h.check(ctx); err != nil {
		return nil, err
	}
	s := h.hist
	st, _, err := s.sessionStream(ctx)
	if err != nil {
		return nil, err
	}
	subject := h.subj.named(".s.", id)
	for range maxReadAttempts {
		m, err := s.lastMsg(ctx, st, subject)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			s.sessionLost(st)
			return nil, allspark.ErrNoSession // the stream and its records are gone
		}
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, allspark.ErrNoSession
		}
		dctx, cancel := s.opContext(ctx)
		err = st.DeleteMsg(dctx, m.Sequence)
		cancel()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) || errors.Is(err, jetstream.ErrMsgNotFound) {
				continue // taken by another, or replaced: read again
			}
			return nil, s.jsError("take session", err)
		}
		if expired(m.Header) {
			return nil, allspark.ErrNoSession
		}
		return m.Data, nil
	}
	return nil, allspark.ErrNoSession
}

// expired reports whether a record's expiry passed (or it has none).
func expired(hdr natsgo.Header) bool {
	ms, err := strconv.ParseInt(hdr.Get(expiresHeader), 10, 64)
	return err != nil || time.Now().UnixMilli() >= ms
}

// DeleteSession implements allspark.SessionStore: the session's subject is
// purged.
func (h *HistoryBroker) DeleteSession(ctx context.Context, id string) error {
	if !validSessionID(id) {
		return nil
	}
	if err := h.check(ctx); err != nil {
		return err
	}
	s := h.hist
	st, _, err := s.sessionStream(ctx)
	if err != nil {
		return err
	}
	pctx, cancel := s.opContext(ctx)
	defer cancel()
	if err := st.Purge(pctx, jetstream.WithPurgeSubject(h.subj.named(".s.", id))); err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			s.sessionLost(st)
			return nil
		}
		return s.jsError("delete session", err)
	}
	return nil
}
