package allspark

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/gob"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Sessions: the identity that survives reconnects (docs/recovery.md). A
// spark whose client asks for one gets a token, "<spark id>.<secret>".
// When the spark ends for any reason but a clean end (the client's end(),
// Spark.End without reconnect, a Socket.IO client's disconnect), its
// record — id, rooms, user, Set values, and the positions it had when it
// joined each room with history — is kept in the SessionStore for
// RecoveryOptions.Window. A connection presenting the token within the
// window takes the record (once: TakeSession is atomic) and becomes the
// same spark again. With a store other nodes can read (Redis, NATS) the
// record is also written while the spark lives (on every join and leave,
// and refreshed every Window/3), so that a node killed without warning
// loses no session.

// sparkSession is the recovery state of a spark whose client tracks
// positions; nil on every other spark.
type sparkSession struct {
	wire sessionWire
	w    *sessionWriter // what the spark's writer writes to (recovery_wire.go)

	// mu guards the fields below. The spark is findable (Server.Spark,
	// the session refresher, a reconnect taking it over) while its
	// restore still writes them, so even fields written once by the
	// attaching goroutine are written and read elsewhere under mu.
	mu     sync.Mutex
	token  string // "<id>.<secret>", sent to the client; a Socket.IO restore that did not recover renews it
	secret []byte // sha256 of the secret part, kept in the record

	// Set once by the restore, before the spark's hooks run.
	restored  bool
	recovered bool
	reason    string

	// bases are the positions the spark had in its history rooms (keys)
	// when it joined them: where a replay starts for a room in which
	// the client received nothing.
	bases map[string]Position
	// ended: the client ended cleanly (or the server ended it for good);
	// the record is deleted instead of kept.
	ended bool
	// superseded: a new connection took the session over; this spark's
	// end must leave the record alone.
	superseded bool
	// final: the spark's end has written (or deleted) the record; later
	// write-through saves must not bring it back.
	final bool

	saveMu sync.Mutex // serializes this spark's store writes
	// queued: a background save is on its way and has not yet built its
	// record, so a change made now is in it: joins in a burst cost one
	// write, not one each.
	queued atomic.Bool
}

// sessionWire says how a spark's client learns positions.
type sessionWire uint8

const (
	wireEnvelope sessionWire = iota // our JS and Go clients: envelopes (recovery_wire.go)
	wireSocketIO                    // Socket.IO connection state recovery: pid and offsets
	wireSSE                         // SSE: event ids
)

// sessionRecord is what the store keeps for a session.
type sessionRecord struct {
	ID     string              `json:"id"`
	Secret []byte              `json:"h"` // sha256 of the token's secret
	NS     string              `json:"ns,omitempty"`
	User   string              `json:"u,omitempty"`
	Rooms  []string            `json:"r,omitempty"` // registry keys
	Bases  map[string]Position `json:"b,omitempty"`
	Values []byte              `json:"v,omitempty"` // gob: string-keyed Set values
	Node   string              `json:"n,omitempty"`
	Live   bool                `json:"l,omitempty"` // written while the spark was connected
	// Expires is when the record's TTL ends (Unix ms), so a record taken
	// by a wrong secret can be put back for the time it had left.
	Expires int64 `json:"x"`
}

// maxSessionRecord bounds a record read from the store.
const maxSessionRecord = 1 << 20

// newSparkSession makes a fresh token for spark id.
func newSparkSession(id string, wire sessionWire) *sparkSession {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	secret := base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(secret))
	return &sparkSession{token: id + "." + secret, secret: sum[:], wire: wire}
}

// splitToken reads "<id>.<secret>". The id may hold dots (Engine.IO sids
// do); the secret never does.
func splitToken(token string) (id, secret string, ok bool) {
	i := strings.LastIndexByte(token, '.')
	if i <= 0 || len(token)-i-1 != 22 || len(token) > 512 {
		return "", "", false
	}
	return token[:i], token[i+1:], true
}

// sessions is the server's side of sessions.
type sessions struct {
	opts  RecoveryOptions
	store SessionStore
	// durable: the store outlives this process (not this server's or a
	// MemoryBroker's memory), so records are written while sparks live.
	durable bool
	stop    chan struct{}
	done    chan struct{}
	// lateForFinal is set once a Shutdown's context ended: sparks ended
	// after that keep the live record written while they lived (another
	// node restores it as after a SIGKILL) instead of each holding the
	// shutdown up with a store round trip.
	lateForFinal atomic.Bool
}

func (s *Server) initSessions() {
	ss := &s.sessions
	ss.opts = s.opts.Recovery.withDefaults()
	switch {
	case ss.opts.Store != nil:
		ss.store = ss.opts.Store
	default:
		if st, ok := s.broker.(SessionStore); ok {
			ss.store = st
		} else {
			ss.store = newMemorySessions(ss.opts.MaxSessions)
		}
	}
	switch ss.store.(type) {
	case *MemoryBroker, *memorySessions:
	default:
		ss.durable = true
	}
}

// enabled reports whether clients get sessions.
func (ss *sessions) enabled() bool { return !ss.opts.Disabled }

// startRefresh runs the write-through refresher of a durable store.
func (s *Server) startSessionRefresh() {
	ss := &s.sessions
	if !ss.enabled() || !ss.durable {
		return
	}
	ss.stop, ss.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ss.done)
		t := time.NewTicker(ss.opts.Window / 3)
		defer t.Stop()
		for {
			select {
			case <-ss.stop:
				return
			case <-t.C:
				for _, sp := range s.sessionSparks() {
					s.saveSession(sp, true)
				}
			}
		}
	}()
}

// stopSessionRefresh ends the refresher (Shutdown).
func (s *Server) stopSessionRefresh() {
	ss := &s.sessions
	if ss.stop != nil {
		close(ss.stop)
		<-ss.done
		ss.stop = nil
	}
}

// sessionSparks lists the live sparks that have a session.
func (s *Server) sessionSparks() []*Spark {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Spark
	for _, sp := range s.sparks {
		if sp.sess != nil {
			out = append(out, sp)
		}
	}
	return out
}

// touchSession writes a live spark's record in the background when the
// store is durable (after a join or leave).
func (s *Server) touchSession(sp *Spark) {
	if sp.sess == nil || !s.sessions.durable || sp.sess.queued.Swap(true) {
		return
	}
	s.active.add()
	go func() {
		defer s.active.done()
		s.saveSession(sp, true)
	}()
}

// record builds sp's session record.
func (sp *Spark) sessionRecord(live bool) *sessionRecord {
	srv := sp.server
	rec := &sessionRecord{ID: sp.id, NS: sp.ns.key(), Node: srv.nodeID, Live: live}
	rec.Rooms = sp.roomKeysNow()
	sp.sess.mu.Lock()
	rec.Secret = sp.sess.secret
	if len(sp.sess.bases) > 0 {
		rec.Bases = make(map[string]Position, len(sp.sess.bases))
		for _, r := range rec.Rooms {
			if p, ok := sp.sess.bases[r]; ok {
				rec.Bases[r] = p
			}
		}
	}
	sp.sess.mu.Unlock()
	rec.User = sp.User()
	rec.Values = sp.encodeValues()
	rec.Expires = time.Now().Add(srv.sessions.opts.Window).UnixMilli()
	return rec
}

// roomKeysNow returns the registry keys of the spark's rooms.
func (sp *Spark) roomKeysNow() []string {
	reg := &sp.server.rooms
	reg.mu.RLock()
	defer reg.mu.RUnlock()
	out := make([]string, 0, len(sp.rooms))
	for r := range sp.rooms {
		out = append(out, r)
	}
	return out
}

// encodeValues gob-encodes the spark's Set values whose keys are strings;
// a value gob cannot encode (an unregistered type behind an interface, a
// func, a channel) is left out and logged.
func (sp *Spark) encodeValues() []byte {
	sp.mu.Lock()
	vals := make(map[string]any, len(sp.values))
	for k, v := range sp.values {
		if ks, ok := k.(string); ok {
			vals[ks] = v
		}
	}
	sp.mu.Unlock()
	if len(vals) == 0 {
		return nil
	}
	out := make(map[string][]byte, len(vals))
	for k, v := range vals {
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(&v); err != nil {
			sp.server.opts.Logger.Debug("session value not kept", "spark", sp.id, "key", k, "err", err)
			continue
		}
		out[k] = buf.Bytes()
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(out); err != nil {
		return nil
	}
	return buf.Bytes()
}

// decodeValues restores Set values from a record; undecodable ones are
// skipped.
func (sp *Spark) decodeValues(b []byte) {
	if len(b) == 0 {
		return
	}
	var in map[string][]byte
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&in); err != nil {
		return
	}
	for k, raw := range in {
		var v any
		if err := gob.NewDecoder(bytes.NewReader(raw)).Decode(&v); err != nil {
			continue
		}
		sp.Set(k, v)
	}
}

// saveSession writes sp's record (live: while it is connected). It never
// runs after the spark's final save.
func (s *Server) saveSession(sp *Spark, live bool) {
	ss := sp.sess
	// A new spark's record is written once the application set it up
	// (see setUp; started saves it then), so that a node killed meanwhile
	// leaves nothing half made to restore.
	setUp := sp.setUp()
	ss.saveMu.Lock()
	defer ss.saveMu.Unlock()
	ss.queued.Store(false) // changes from here on need another save
	ss.mu.Lock()
	skip := ss.final || ss.superseded || (live && !setUp)
	ss.mu.Unlock()
	if skip {
		return
	}
	s.writeRecord(sp, sp.sessionRecord(live))
}

func (s *Server) writeRecord(sp *Spark, rec *sessionRecord) {
	b, err := json.Marshal(rec)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.sessions.opts.Timeout)
	defer cancel()
	if err := s.sessions.store.SaveSession(ctx, rec.ID, b, s.sessions.opts.Window); err != nil {
		s.opts.Logger.Warn("session not saved", "spark", sp.id, "err", err)
	}
}

// endSession runs once when a spark with a session ends: its record is
// kept for the window, or deleted after a clean end or when the spark was
// never set up. reason is the spark's disconnect reason.
func (s *Server) endSession(sp *Spark, reason string) {
	ss := sp.sess
	setUp := sp.setUp()
	ss.saveMu.Lock()
	defer ss.saveMu.Unlock()
	ss.mu.Lock()
	superseded := ss.superseded
	ended := ss.ended || !setUp || reason == ReasonServerDisconnect || reason == ReasonClientDisconnect
	ss.final = true
	ss.mu.Unlock()
	if superseded {
		return
	}
	if ended {
		ctx, cancel := context.WithTimeout(context.Background(), s.sessions.opts.Timeout)
		defer cancel()
		_ = s.sessions.store.DeleteSession(ctx, sp.id)
		return
	}
	if s.sessions.durable && s.sessions.lateForFinal.Load() {
		return
	}
	s.writeRecord(sp, sp.sessionRecord(false))
}

// setUp reports whether the application has set the spark up: its
// connection hooks returned (they join rooms, set values), or it is a
// restored spark, which came back set up. A new spark that ends while its
// hooks still run keeps no session: restoring it would hand the
// application, told Restored, a spark it never finished (its client,
// told recovered: false with a new id, starts over, and the hooks run
// again).
func (sp *Spark) setUp() bool {
	if sp.Restored() {
		return true
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.hooksDone
}

// errBadToken: a token's secret does not match its record.
var errBadToken = errors.New("allspark: bad session token")

// takeSession finds the record a token names and takes it from the store.
// A token whose secret does not match puts the record back (an id is no
// secret: knowing one must not be enough to destroy its session).
func (s *Server) takeSession(ctx context.Context, token string) (*sessionRecord, error) {
	id, secret, ok := splitToken(token)
	if !ok {
		return nil, errBadToken
	}
	b, err := s.sessions.store.TakeSession(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(b) > maxSessionRecord {
		return nil, errBadToken
	}
	var rec sessionRecord
	if err := json.Unmarshal(b, &rec); err != nil || rec.ID != id {
		return nil, errBadToken
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], rec.Secret) != 1 {
		if left := time.Until(time.UnixMilli(rec.Expires)); left > 0 {
			_ = s.sessions.store.SaveSession(ctx, id, b, left)
		}
		return nil, errBadToken
	}
	return &rec, nil
}

// markSessionEnded records that the client ended cleanly: its session is
// deleted when the spark ends.
func (sp *Spark) markSessionEnded() {
	if sp.sess == nil {
		return
	}
	sp.sess.mu.Lock()
	sp.sess.ended = true
	sp.sess.mu.Unlock()
}

// Restored reports whether the spark is a reconnecting client's earlier
// spark, back with its id, rooms, user and Set values (a session presented
// within RecoveryOptions.Window); false for a new connection.
func (sp *Spark) Restored() bool {
	if sp.sess == nil {
		return false
	}
	sp.sess.mu.Lock()
	defer sp.sess.mu.Unlock()
	return sp.sess.restored
}

// Recovered reports whether every message the client missed in the spark's
// history rooms was replayed to it; false when it was not (see
// RecoveryReason) or there was nothing to recover from.
func (sp *Spark) Recovered() bool {
	if sp.sess == nil {
		return false
	}
	sp.sess.mu.Lock()
	defer sp.sess.mu.Unlock()
	return sp.sess.recovered
}

// RecoveryReason says why Recovered is false: "new", "expired", "epoch",
// "truncated", "limit", "unavailable" (docs/recovery.md); "" when it is
// true or the spark has no session.
func (sp *Spark) RecoveryReason() string {
	if sp.sess == nil {
		return ""
	}
	sp.sess.mu.Lock()
	defer sp.sess.mu.Unlock()
	return sp.sess.reason
}
