package nats

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allspark/allspark"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Room history and sessions on JetStream (docs/recovery.md, "NATS";
// docs/decisions.md, "History on NATS"). They are opt-in (Options.History)
// because they need JetStream, which a core-NATS deployment may not have,
// and because a broker that implements allspark.HistoryBroker and
// allspark.SessionStore is used for them by every server it is given: a
// Broker without JetStream must not claim them. So the Broker keeps the
// plain allspark.Broker methods, and WithHistory returns the same broker
// with history and sessions added.

// HistoryBroker is a Broker whose rooms keep history and whose sessions
// live in JetStream: it implements allspark.HistoryBroker and
// allspark.SessionStore besides everything Broker does. Get it from
// Broker.WithHistory; closing either closes both.
type HistoryBroker struct {
	*Broker
}

var (
	_ allspark.Broker         = (*HistoryBroker)(nil)
	_ allspark.HistoryBroker  = (*HistoryBroker)(nil)
	_ allspark.SessionStore   = (*HistoryBroker)(nil)
	_ allspark.HealthReporter = (*HistoryBroker)(nil)
	_ allspark.StatsReporter  = (*HistoryBroker)(nil)
)

// WithHistory returns b as a HistoryBroker, or nil when Options.History
// was off (b has no JetStream).
func (b *Broker) WithHistory() *HistoryBroker {
	if b.hist == nil {
		return nil
	}
	return &HistoryBroker{Broker: b}
}

// check refuses an operation of a HistoryBroker that was not made by
// WithHistory (no JetStream), or whose Broker cannot send now.
func (h *HistoryBroker) check(ctx context.Context) error {
	if h == nil || h.Broker == nil || h.hist == nil {
		return ErrNoJetStream
	}
	if err := h.ready(ctx); err != nil {
		h.errors.Add(1)
		return err
	}
	return nil
}

// Conflicts reports how many history writes of this Broker lost the race
// for their room's next offset and were retried (a measure of contention
// between nodes writing to one room).
func (h *HistoryBroker) Conflicts() uint64 {
	if h == nil || h.Broker == nil || h.hist == nil {
		return 0
	}
	return h.hist.conflicts.Load()
}

// jsState is a Broker's JetStream side.
type jsState struct {
	b  *Broker
	js jetstream.JetStream
	// msgTTL: the server has per-message TTLs (2.11+), used for sessions.
	msgTTL bool
	base   string // stream name prefix derived from Options.Prefix

	mu      sync.Mutex // guards streams
	streams map[policyKey]*hstream

	rooms roomCache
	locks [256]sync.Mutex // one node's writes to a room, by subject hash

	sessMu   sync.Mutex
	sessions jetstream.Stream // nil until first use

	conflicts atomic.Uint64
}

// policyKey is a history policy in whole milliseconds: the streams it
// names are shared by every node.
type policyKey struct {
	size      int
	ttl, meta int64
}

func keyOf(pol allspark.HistoryPolicy) policyKey {
	return policyKey{size: pol.Size, ttl: millis(pol.TTL), meta: millis(metaTTL(pol))}
}

// millis is d in whole milliseconds, rounded up, at least 1.
func millis(d time.Duration) int64 {
	return int64(max(1, (d+time.Millisecond-1)/time.Millisecond))
}

// defaultMetaTTL is the meta TTL of a policy that names none (the server's
// default, allspark.DefaultHistoryMetaTTL).
const defaultMetaTTL = allspark.DefaultHistoryMetaTTL

func metaTTL(pol allspark.HistoryPolicy) time.Duration {
	if pol.MetaTTL <= 0 {
		return defaultMetaTTL
	}
	return max(pol.MetaTTL, pol.TTL)
}

// hstream is one policy's stream: the history of every room with that
// policy, one subject per room.
type hstream struct {
	name   string
	kind   string // ".h.<policy>." : subjects are <prefix><kind><room token>
	cfg    jetstream.StreamConfig
	stream atomic.Pointer[streamRef]
}

type streamRef struct{ s jetstream.Stream }

// newJetStream connects b to its account's JetStream, failing with
// ErrNoJetStream when there is none.
func newJetStream(b *Broker) (*jsState, error) {
	js, err := jetstream.New(b.nc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoJetStream, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), max(b.opts.WriteTimeout, 2*time.Second))
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoJetStream, err)
	}
	return &jsState{
		b:       b,
		js:      js,
		msgTTL:  versionAtLeast(b.nc.ConnectedServerVersion(), 2, 11),
		base:    streamBase(b.opts.Prefix),
		streams: make(map[policyKey]*hstream),
		rooms:   roomCache{m: make(map[string]roomState)},
	}, nil
}

// versionAtLeast reports whether a "major.minor.patch" server version is
// at least major.minor.
func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// streamBase turns a subject prefix into the start of a stream name
// (letters, digits, '_' and '-' only): dots become '_', and a prefix that
// needed any change gets a short hash of itself so that "a.b" and "a_b"
// do not share streams.
func streamBase(prefix string) string {
	var sb strings.Builder
	changed := false
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			sb.WriteByte(c)
		} else {
			sb.WriteByte('_')
			changed = true
		}
	}
	if changed {
		sum := sha256.Sum256([]byte(prefix))
		sb.WriteByte('_')
		sb.WriteString(hex.EncodeToString(sum[:4]))
	}
	return sb.String()
}

// storage maps Options.HistoryStorage.
func (s *jsState) storage() jetstream.StorageType {
	if s.b.opts.HistoryStorage == MemoryStorage {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

// policyStream returns pol's stream, creating it on first use.
func (s *jsState) policyStream(ctx context.Context, pol allspark.HistoryPolicy) (*hstream, jetstream.Stream, error) {
	k := keyOf(pol)
	s.mu.Lock()
	hs := s.streams[k]
	if hs == nil {
		tok := fmt.Sprintf("%d_%d_%d", k.size, k.ttl, k.meta)
		subjects := s.b.opts.Prefix + ".h." + tok + ".*"
		meta := time.Duration(k.meta) * time.Millisecond
		hs = &hstream{
			name: s.base + "_h_" + tok,
			kind: ".h." + tok + ".",
			cfg: jetstream.StreamConfig{
				Subjects:          []string{subjects},
				Retention:         jetstream.LimitsPolicy,
				MaxMsgsPerSubject: int64(k.size),
				Discard:           jetstream.DiscardOld,
				// The last message of a room, which holds its position,
				// lives the meta TTL; reads enforce the shorter TTL of
				// entries (history.go).
				MaxAge:      meta,
				Duplicates:  min(meta, 2*time.Minute),
				Storage:     s.storage(),
				Replicas:    s.b.opts.HistoryReplicas,
				AllowDirect: true,
				RePublish: &jetstream.RePublish{
					Source:      subjects,
					Destination: s.b.opts.Prefix + ".r.{{wildcard(1)}}",
				},
			},
		}
		hs.cfg.Name = hs.name
		s.streams[k] = hs
	}
	s.mu.Unlock()
	if ref := hs.stream.Load(); ref != nil {
		return hs, ref.s, nil
	}
	st, err := s.ensure(ctx, hs.cfg)
	if err != nil {
		return nil, nil, err
	}
	hs.stream.Store(&streamRef{st})
	return hs, st, nil
}

// recreate makes hs's stream again after it was deleted, and forgets every
// cached room position: the rooms start over in new epochs.
func (s *jsState) recreate(ctx context.Context, hs *hstream) error {
	s.rooms.clear()
	st, err := s.ensure(ctx, hs.cfg)
	if err != nil {
		return err
	}
	hs.stream.Store(&streamRef{st})
	return nil
}

// ensure creates or updates a stream, or when that is refused (a stream of
// that name made with other settings, no permission to manage streams)
// uses the stream as it is.
func (s *jsState) ensure(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	st, err := s.js.CreateOrUpdateStream(ctx, cfg)
	if err == nil {
		return st, nil
	}
	if existing, err2 := s.js.Stream(ctx, cfg.Name); err2 == nil {
		return existing, nil
	}
	return nil, s.jsError("stream "+cfg.Name, err)
}

// opContext bounds one JetStream request by Options.WriteTimeout.
func (s *jsState) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.b.opts.WriteTimeout)
}

// jsError wraps a JetStream failure, as ErrNoJetStream when the account
// lost JetStream.
func (s *jsState) jsError(op string, err error) error {
	s.b.errors.Add(1)
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return fmt.Errorf("nats broker: %s: %w: %w", op, ErrNoJetStream, err)
	}
	if errors.Is(err, natsgo.ErrConnectionClosed) || errors.Is(err, natsgo.ErrConnectionReconnecting) {
		return fmt.Errorf("nats broker: %s: %w: %w", op, ErrNotConnected, err)
	}
	return fmt.Errorf("nats broker: %s: %w", op, err)
}
