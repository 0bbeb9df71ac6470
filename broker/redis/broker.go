package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allspark/allspark"
	"github.com/redis/rueidis"
)

// Broker is an allspark.Broker on Redis PUB/SUB. One value holds one
// auto-pipelining client for PUBLISH and one PUB/SUB connection shared by
// every node registered on it; see the package doc for what it guarantees.
type Broker struct {
	opts   Options
	topics topics
	keys   keys
	id     string // names this value's probe channel
	client rueidis.Client

	// subMu serialises changes to the PUB/SUB connection's subscriptions
	// (Register, Subscribe, ... and the reconnect loop), so that what is
	// subscribed always follows what is wanted.
	subMu      sync.Mutex
	conn       rueidis.DedicatedClient // nil while disconnected
	subscribed map[string]struct{}     // channels confirmed on conn

	// mu guards the routing tables the reader consults per message.
	mu    sync.RWMutex
	nodes map[string]*node
	rooms map[string]map[*node]struct{}

	deadline   sharedDeadline
	health     atomic.Pointer[error] // nil: healthy
	probeSent  atomic.Uint64
	probeAcked atomic.Uint64

	published, received, dropped, errs, reconnects atomic.Uint64

	closeOnce sync.Once
	closing   chan struct{}
	done      chan struct{} // the reconnect loop returned
	drainers  sync.WaitGroup
}

// node is one registered node: its handler and the bounded queue in front
// of it.
type node struct {
	name  string
	h     allspark.BrokerHandler
	q     *inbound
	rooms map[string]struct{} // under Broker.mu
	stop  chan struct{}
	done  chan struct{}

	lastDropLog  atomic.Int64 // unix nanoseconds
	droppedSince atomic.Uint64
}

// New connects to Redis and returns a Broker once its PUB/SUB connection is
// up. It fails when Redis cannot be reached within the dial timeout.
func New(opts Options) (*Broker, error) {
	o := opts.withDefaults()
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	b := &Broker{
		opts:       o,
		topics:     newTopics(o.Prefix, o.Cluster),
		keys:       newKeys(o.Prefix, o.Cluster),
		id:         hex.EncodeToString(id),
		subscribed: make(map[string]struct{}),
		nodes:      make(map[string]*node),
		rooms:      make(map[string]map[*node]struct{}),
		closing:    make(chan struct{}),
		done:       make(chan struct{}),
		deadline:   sharedDeadline{timeout: o.WriteTimeout},
	}
	c, err := rueidis.NewClient(b.clientOption())
	if err != nil {
		return nil, fmt.Errorf("redis broker: connect %v: %w", o.Addrs, err)
	}
	b.client = c
	first := make(chan error, 1)
	go b.run(first)
	if err := <-first; err != nil {
		b.Close()
		return nil, fmt.Errorf("redis broker: subscribe on %v: %w", o.Addrs, err)
	}
	return b, nil
}

func (b *Broker) clientOption() rueidis.ClientOption {
	o := b.opts
	dialTimeout := max(2*o.WriteTimeout, 2*time.Second)
	co := rueidis.ClientOption{
		InitAddress: o.Addrs,
		Username:    o.Username,
		Password:    o.Password,
		SelectDB:    o.DB,
		TLSConfig:   o.TLS,
		ClientName:  "allspark",
		Dialer:      net.Dialer{Timeout: dialTimeout},
		// No client-side cache (PUB/SUB only), pipeline every command and
		// flush at most 100 µs late: many PUBLISHes share one write (the
		// measurement in docs/decisions.md).
		DisableCache:     true,
		AlwaysPipelining: true,
		MaxFlushDelay:    100 * time.Microsecond,
		// A publication is at most once: never resend one behind the
		// caller's back.
		DisableRetry: true,
		// A connection whose keepalive PING goes unanswered this long is
		// closed and redialled.
		ConnWriteTimeout: max(o.ProbeInterval, 3*time.Second),
	}
	switch {
	case o.SentinelMaster != "":
		co.Sentinel = rueidis.SentinelOption{
			MasterSet: o.SentinelMaster,
			Username:  o.Username,
			Password:  o.Password,
			TLSConfig: o.TLS,
			Dialer:    net.Dialer{Timeout: dialTimeout},
		}
	case !o.Cluster:
		co.ForceSingleClient = true
	}
	return co
}

// Register implements allspark.Broker: node's channel is subscribed and
// its queue started. It fails (and registers nothing) while Redis is down.
func (b *Broker) Register(ctx context.Context, name string, h allspark.BrokerHandler) error {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	if b.isClosed() {
		return ErrClosed
	}
	b.mu.Lock()
	if _, ok := b.nodes[name]; ok {
		b.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrNodeExists, name)
	}
	n := &node{
		name:  name,
		h:     h,
		q:     newInbound(b.opts.InboundQueue),
		rooms: make(map[string]struct{}),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	b.nodes[name] = n
	b.mu.Unlock()
	if err := b.subscribeLocked(ctx, b.topics.name(b.topics.node, name)); err != nil {
		b.mu.Lock()
		delete(b.nodes, name)
		b.mu.Unlock()
		return err
	}
	b.drainers.Add(1)
	go b.drain(n)
	return nil
}

// Unregister implements allspark.Broker: the node's channels whose last
// node it was are unsubscribed and its queue dropped. It waits (bounded by
// ctx) for a handler call in progress to return.
func (b *Broker) Unregister(ctx context.Context, name string) error {
	b.subMu.Lock()
	b.mu.Lock()
	n := b.nodes[name]
	if n == nil {
		b.mu.Unlock()
		b.subMu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownNode, name)
	}
	delete(b.nodes, name)
	var gone []string
	for room := range n.rooms {
		if set := b.rooms[room]; set != nil {
			delete(set, n)
			if len(set) == 0 {
				delete(b.rooms, room)
				gone = append(gone, b.topics.name(b.topics.room, room))
			}
		}
	}
	b.mu.Unlock()
	close(n.stop)
	n.q.close()
	gone = append(gone, b.topics.name(b.topics.node, name))
	err := b.unsubscribeLocked(ctx, gone...)
	b.subMu.Unlock()
	select {
	case <-n.done:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// Subscribe implements allspark.Broker. The interest is recorded first, so
// that a reconnect subscribes the room even when this call fails.
func (b *Broker) Subscribe(ctx context.Context, name, room string) error {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	if b.isClosed() {
		return ErrClosed
	}
	b.mu.Lock()
	n := b.nodes[name]
	if n == nil {
		b.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownNode, name)
	}
	n.rooms[room] = struct{}{}
	set := b.rooms[room]
	if set == nil {
		set = make(map[*node]struct{})
		b.rooms[room] = set
	}
	set[n] = struct{}{}
	b.mu.Unlock()
	return b.subscribeLocked(ctx, b.topics.name(b.topics.room, room))
}

// Unsubscribe implements allspark.Broker.
func (b *Broker) Unsubscribe(ctx context.Context, name, room string) error {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	if b.isClosed() {
		return ErrClosed
	}
	b.mu.Lock()
	n := b.nodes[name]
	if n == nil {
		b.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownNode, name)
	}
	delete(n.rooms, room)
	last := false
	if set := b.rooms[room]; set != nil {
		delete(set, n)
		if len(set) == 0 {
			delete(b.rooms, room)
			last = true
		}
	}
	b.mu.Unlock()
	if !last {
		return nil
	}
	return b.unsubscribeLocked(ctx, b.topics.name(b.topics.room, room))
}

// subscribeLocked subscribes ch on the current connection unless it is
// there already. Callers hold subMu.
func (b *Broker) subscribeLocked(ctx context.Context, ch string) error {
	if _, ok := b.subscribed[ch]; ok {
		return nil
	}
	if b.conn == nil {
		b.errs.Add(1)
		return b.notConnected()
	}
	ctx, cancel := b.writeContext(ctx)
	defer cancel()
	if err := b.conn.Do(ctx, b.conn.B().Subscribe().Channel(ch).Build()).Error(); err != nil {
		b.errs.Add(1)
		return fmt.Errorf("redis broker: subscribe: %w", err)
	}
	b.subscribed[ch] = struct{}{}
	return nil
}

// unsubscribeLocked drops chs from the connection. A channel whose
// UNSUBSCRIBE failed stays recorded as subscribed: traffic on it finds no
// node and is ignored, and a reconnect does not resubscribe it.
func (b *Broker) unsubscribeLocked(ctx context.Context, chs ...string) error {
	var todo []string
	for _, ch := range chs {
		if _, ok := b.subscribed[ch]; ok {
			todo = append(todo, ch)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if b.conn == nil {
		// The next connection will not subscribe them.
		for _, ch := range todo {
			delete(b.subscribed, ch)
		}
		return nil
	}
	ctx, cancel := b.writeContext(ctx)
	defer cancel()
	if err := b.conn.Do(ctx, b.conn.B().Unsubscribe().Channel(todo...).Build()).Error(); err != nil {
		b.errs.Add(1)
		return fmt.Errorf("redis broker: unsubscribe: %w", err)
	}
	for _, ch := range todo {
		delete(b.subscribed, ch)
	}
	return nil
}

// Publish implements allspark.Broker. A publication for exactly one room
// (no sparks, not All) goes on that room's channel; every other one on the
// broadcast channel, where each node filters locally. It returns (0, nil)
// once Redis accepted the PUBLISH: delivery is asynchronous.
func (b *Broker) Publish(ctx context.Context, p *allspark.Publication) (int, error) {
	if b.isClosed() {
		return 0, ErrClosed
	}
	bp := getBuf()
	buf := *bp
	if !p.All && len(p.Rooms) == 1 && len(p.Sparks) == 0 {
		buf = b.topics.appendName(buf[:0], b.topics.room, p.Rooms[0])
	} else {
		buf = append(buf[:0], b.topics.all...)
	}
	chLen := len(buf)
	buf = appendPublication(buf, p)
	err := b.publish(ctx, buf[:chLen], buf[chLen:])
	*bp = buf
	if err != nil {
		// The command may still sit in the client's pipeline, reading the
		// buffer: leave it to the GC rather than the pool.
		return 0, err
	}
	putBuf(bp)
	return 0, nil
}

// Send implements allspark.Broker: to one node's channel, or the broadcast
// channel when to is "".
func (b *Broker) Send(ctx context.Context, from, to string, msg []byte) error {
	if b.isClosed() {
		return ErrClosed
	}
	bp := getBuf()
	buf := *bp
	if to == "" {
		buf = append(buf[:0], b.topics.all...)
	} else {
		buf = b.topics.appendName(buf[:0], b.topics.node, to)
	}
	chLen := len(buf)
	buf = appendMessage(buf, from, to, msg)
	err := b.publish(ctx, buf[:chLen], buf[chLen:])
	*bp = buf
	if err != nil {
		return err
	}
	putBuf(bp)
	return nil
}

// publish sends PUBLISH ch msg, bounded by WriteTimeout. ch and msg are
// passed to the client without a copy.
func (b *Broker) publish(ctx context.Context, ch, msg []byte) error {
	ctx, cancel := b.writeContext(ctx)
	err := b.client.Do(ctx, b.client.B().Publish().Channel(rueidis.BinaryString(ch)).Message(rueidis.BinaryString(msg)).Build()).Error()
	cancel()
	if err != nil {
		b.errs.Add(1)
		return fmt.Errorf("redis broker: publish: %w", err)
	}
	b.published.Add(1)
	return nil
}

// writeContext bounds ctx by WriteTimeout unless it ends sooner already.
func (b *Broker) writeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Done() == nil {
		return b.deadline.get(), noCancel
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= b.opts.WriteTimeout {
		return ctx, noCancel
	}
	return context.WithTimeout(ctx, b.opts.WriteTimeout)
}

// readContext is the bound of a history read or a session take: the
// caller's own deadline when it has one (a restore runs under
// allspark.RecoveryOptions.Timeout, 5 s by default, and a reconnect storm
// of thousands of sparks queues their reads for longer than WriteTimeout:
// cutting them at 1 s told every one of them recovered: false), else
// WriteTimeout as for writes.
func (b *Broker) readContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, noCancel
	}
	return b.writeContext(ctx)
}

func noCancel() {}

// Health implements allspark.HealthReporter: nil while the PUB/SUB
// connection is up and its probes come back.
func (b *Broker) Health() error {
	if b.isClosed() {
		return ErrClosed
	}
	if e := b.health.Load(); e != nil {
		return *e
	}
	return nil
}

// BrokerStats implements allspark.StatsReporter.
func (b *Broker) BrokerStats() allspark.BrokerStats {
	return allspark.BrokerStats{
		Published:  b.published.Load(),
		Received:   b.received.Load(),
		Dropped:    b.dropped.Load(),
		Errors:     b.errs.Load(),
		Reconnects: b.reconnects.Load(),
		Connected:  b.Health() == nil,
	}
}

// Close releases the connections and stops every node's queue. It waits
// for handler calls in progress to return.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		close(b.closing)
		<-b.done
		b.mu.Lock()
		for name, n := range b.nodes {
			delete(b.nodes, name)
			close(n.stop)
			n.q.close()
		}
		clear(b.rooms)
		b.mu.Unlock()
		b.drainers.Wait()
		b.client.Close()
		b.deadline.stop()
	})
	return nil
}

func (b *Broker) isClosed() bool {
	select {
	case <-b.closing:
		return true
	default:
		return false
	}
}

func (b *Broker) notConnected() error {
	if e := b.health.Load(); e != nil && !errors.Is(*e, ErrNotConnected) {
		return fmt.Errorf("%w: %w", ErrNotConnected, *e)
	}
	return ErrNotConnected
}

func (b *Broker) setHealth(err error) {
	if err == nil {
		b.health.Store(nil)
		return
	}
	b.health.Store(&err)
}

var (
	_ allspark.Broker         = (*Broker)(nil)
	_ allspark.HealthReporter = (*Broker)(nil)
	_ allspark.StatsReporter  = (*Broker)(nil)
)
