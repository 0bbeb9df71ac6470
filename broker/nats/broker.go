package nats

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allspark/allspark"
	natsgo "github.com/nats-io/nats.go"
)

// Broker is an allspark.Broker over NATS core subjects. One Broker value
// holds one NATS connection and may serve several nodes (servers) of the
// process; each registered node has its own subscriptions and its own
// bounded inbound queue. Every method may be called from many goroutines.
type Broker struct {
	opts  Options
	nc    *natsgo.Conn
	owned bool // the connection was dialled by New and is closed by Close
	subj  subjects
	hist  *jsState // JetStream history and sessions; nil unless Options.History

	bufs sync.Pool // *[]byte envelopes being published

	mu     sync.Mutex // guards nodes
	nodes  map[string]*node
	closed atomic.Bool

	published, received, dropped, errors atomic.Uint64
	retiredDrops                         atomic.Uint64 // nats.go drops of subscriptions already gone
	baseReconnects                       uint64

	stop      chan struct{} // closed by Close: ends the probe loop
	probeDone chan struct{}
}

var (
	_ allspark.Broker         = (*Broker)(nil)
	_ allspark.HealthReporter = (*Broker)(nil)
	_ allspark.StatsReporter  = (*Broker)(nil)
)

// intakeLen is the capacity of the channel nats.go hands a node's messages
// to (capped by Options.InboundQueue). nats.go never blocks its reader on
// it: when it is full the message is dropped as a slow consumer. The intake
// goroutine only decodes and queues, so it fills only when the process is
// starved of CPU.
const intakeLen = 1024

// maxPooledBuf is the largest envelope buffer kept for reuse.
const maxPooledBuf = 64 << 10

// New connects to NATS and returns a Broker that owns the connection.
// With Options.History it also checks that the account has JetStream
// (failing with ErrNoJetStream when it has not); use WithHistory then.
//
// The connection reconnects forever (MaxReconnects -1) and has no reconnect
// buffer (ReconnectBufSize -1): while it is down, Publish and Send fail at
// once with ErrNotConnected rather than queue bytes no one bounds, and
// subscriptions are sent again by nats.go when it is back. Socket writes are
// bounded by Options.WriteTimeout (FlusherTimeout).
func New(opts Options) (*Broker, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	b := newBroker(o)
	nopts := []natsgo.Option{
		natsgo.Name(o.Name),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(500 * time.Millisecond),
		natsgo.ReconnectBufSize(-1),
		natsgo.FlusherTimeout(o.WriteTimeout),
		natsgo.PingInterval(20 * time.Second),
		natsgo.ErrorHandler(b.asyncError),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			o.Logger.Warn("nats broker: disconnected", "err", err)
		}),
		natsgo.ReconnectHandler(func(nc *natsgo.Conn) {
			o.Logger.Info("nats broker: reconnected", "server", nc.ConnectedUrlRedacted())
		}),
	}
	switch {
	case o.Username != "" || o.Password != "":
		nopts = append(nopts, natsgo.UserInfo(o.Username, o.Password))
	case o.Token != "":
		nopts = append(nopts, natsgo.Token(o.Token))
	case o.CredsFile != "":
		nopts = append(nopts, natsgo.UserCredentials(o.CredsFile))
	}
	if o.TLS != nil {
		nopts = append(nopts, natsgo.Secure(o.TLS))
	}
	nc, err := natsgo.Connect(strings.Join(o.Servers, ","), nopts...)
	if err != nil {
		return nil, fmt.Errorf("nats broker: connect %s: %w", strings.Join(o.Servers, ","), err)
	}
	b.nc, b.owned = nc, true
	if o.History {
		if b.hist, err = newJetStream(b); err != nil {
			nc.Close()
			return nil, err
		}
	}
	b.start()
	return b, nil
}

// NewWithConn returns a Broker on a connection the application owns: Close
// leaves it open, and its options (reconnects, buffers, handlers) stay the
// application's. Publish and Send still refuse at once while it is not
// connected. Options' connection fields (Servers, credentials, TLS, Name)
// are ignored.
func NewWithConn(nc *natsgo.Conn, opts Options) (*Broker, error) {
	if nc == nil {
		return nil, fmt.Errorf("%w: nil connection", ErrBadOptions)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	b := newBroker(o)
	b.nc = nc
	if o.History {
		if b.hist, err = newJetStream(b); err != nil {
			return nil, err
		}
	}
	b.start()
	return b, nil
}

func newBroker(o Options) *Broker {
	return &Broker{
		opts:      o,
		subj:      newSubjects(o.Prefix),
		nodes:     make(map[string]*node),
		stop:      make(chan struct{}),
		probeDone: make(chan struct{}),
	}
}

func (b *Broker) start() {
	b.baseReconnects = b.nc.Stats().Reconnects
	if b.opts.ProbeInterval > 0 {
		go b.probeLoop()
	} else {
		close(b.probeDone)
	}
}

// asyncError receives nats.go's asynchronous errors: slow consumers (a
// node's intake channel was full; the drops are counted per subscription)
// and permission or protocol errors.
func (b *Broker) asyncError(_ *natsgo.Conn, sub *natsgo.Subscription, err error) {
	b.errors.Add(1)
	subject := ""
	if sub != nil {
		subject = sub.Subject
	}
	b.opts.Logger.Warn("nats broker: async error", "subject", subject, "err", err)
}

// Register implements allspark.Broker: the node subscribes to the
// broadcast subject and its own node subject, and gets its queue and
// delivery goroutines. It returns once the server has the subscriptions.
// When NATS is unreachable it fails (wrapping ErrNotConnected) and leaves
// nothing registered: a server cannot start on a broker it cannot reach.
func (b *Broker) Register(ctx context.Context, name string, h allspark.BrokerHandler) error {
	if h == nil {
		return fmt.Errorf("%w: nil handler", ErrBadOptions)
	}
	b.mu.Lock()
	if b.closed.Load() {
		b.mu.Unlock()
		return ErrClosed
	}
	if _, dup := b.nodes[name]; dup {
		b.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrNodeExists, name)
	}
	n := newNode(b, name, h)
	b.nodes[name] = n
	b.mu.Unlock()

	err := ErrClosed // an Unregister or Close that came first
	n.mu.Lock()
	if !n.closed {
		if n.all, err = b.nc.ChanSubscribe(b.subj.all, n.intake); err == nil {
			n.self, err = b.nc.ChanSubscribe(n.subject, n.intake)
		}
	}
	n.mu.Unlock()
	if err == nil {
		err = b.confirm(ctx)
	}
	if err != nil {
		// The server cannot start without its node: leave nothing behind.
		b.mu.Lock()
		if b.nodes[name] == n {
			delete(b.nodes, name)
		}
		b.mu.Unlock()
		n.shutdown()
		b.errors.Add(1)
		return fmt.Errorf("nats broker: register %q: %w", name, err)
	}
	return nil
}

// Unregister implements allspark.Broker. It returns once the node's
// handler is no longer called (or ctx ends first).
func (b *Broker) Unregister(ctx context.Context, name string) error {
	b.mu.Lock()
	n := b.nodes[name]
	delete(b.nodes, name)
	b.mu.Unlock()
	if n == nil {
		return nil
	}
	n.shutdown()
	return n.wait(ctx)
}

// Subscribe implements allspark.Broker: the node subscribes to the room's
// subject. The interest is kept even when the call fails for want of a
// connection; nats.go sends it again on reconnect.
func (b *Broker) Subscribe(ctx context.Context, name, room string) error {
	n, err := b.node(name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownNode, name)
	}
	if _, ok := n.rooms[room]; ok {
		n.mu.Unlock()
		return nil
	}
	sub, err := b.nc.ChanSubscribe(b.subj.room(room), n.intake)
	if err == nil {
		n.rooms[room] = sub
	}
	n.mu.Unlock()
	if err != nil {
		b.errors.Add(1)
		return fmt.Errorf("nats broker: subscribe: %w", err)
	}
	if err := b.confirm(ctx); err != nil {
		b.errors.Add(1)
		return fmt.Errorf("nats broker: subscribe (interest kept, resent on reconnect): %w", err)
	}
	return nil
}

// Unsubscribe implements allspark.Broker.
func (b *Broker) Unsubscribe(_ context.Context, name, room string) error {
	n, err := b.node(name)
	if err != nil {
		return err
	}
	n.mu.Lock()
	sub := n.rooms[room]
	delete(n.rooms, room)
	n.mu.Unlock()
	if sub != nil {
		b.retire(sub)
	}
	return nil
}

// Publish implements allspark.Broker. A publication for exactly one room
// (no sparks, not All) goes on that room's subject; any other goes on the
// broadcast subject and every node filters it locally. Delivery is
// asynchronous: Publish returns (0, nil) once the bytes are handed to the
// connection.
func (b *Broker) Publish(ctx context.Context, p *allspark.Publication) (int, error) {
	subject := b.subj.all
	if !p.All && len(p.Rooms) == 1 && len(p.Sparks) == 0 {
		subject = b.subj.room(p.Rooms[0])
	}
	buf := b.getBuf()
	*buf = appendPublication((*buf)[:0], p)
	err := b.publish(ctx, subject, *buf)
	b.putBuf(buf)
	return 0, err
}

// Send implements allspark.Broker: to "" goes on the broadcast subject,
// any other on that node's subject.
func (b *Broker) Send(ctx context.Context, from, to string, msg []byte) error {
	subject := b.subj.all
	if to != "" {
		subject = b.subj.node(to)
	}
	buf := b.getBuf()
	*buf = appendMessage((*buf)[:0], from, to, msg)
	err := b.publish(ctx, subject, *buf)
	b.putBuf(buf)
	return err
}

// publish hands one envelope to the connection, refusing at once when the
// Broker is closed, ctx is done or the connection is down.
func (b *Broker) publish(ctx context.Context, subject string, data []byte) error {
	err := b.ready(ctx)
	if err == nil {
		if err = b.nc.Publish(subject, data); err != nil {
			err = fmt.Errorf("nats broker: publish %d bytes: %w", len(data), err)
		}
	}
	if err != nil {
		b.errors.Add(1)
		return err
	}
	b.published.Add(1)
	return nil
}

func (b *Broker) ready(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.closed.Load() {
		return ErrClosed
	}
	if st := b.nc.Status(); st != natsgo.CONNECTED {
		return fmt.Errorf("%w (%v)", ErrNotConnected, st)
	}
	return nil
}

// confirm waits until the server has processed what was written so far (a
// PING/PONG round trip), so a subscription is in force when Register or
// Subscribe returns. It waits at most WriteTimeout.
func (b *Broker) confirm(ctx context.Context) error {
	if err := b.ready(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.WriteTimeout)
	defer cancel()
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("%w: subscription not confirmed: %w", ErrNotConnected, err)
	}
	return nil
}

func (b *Broker) node(name string) (*node, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed.Load() {
		return nil, ErrClosed
	}
	n := b.nodes[name]
	if n == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownNode, name)
	}
	return n, nil
}

// retire unsubscribes sub, keeping the count of what nats.go dropped on it.
func (b *Broker) retire(sub *natsgo.Subscription) {
	if d, err := sub.Dropped(); err == nil && d > 0 {
		b.retiredDrops.Add(uint64(d))
	}
	_ = sub.Unsubscribe() // fails only when the connection is closed: nothing left to undo
}

func (b *Broker) getBuf() *[]byte {
	if p, ok := b.bufs.Get().(*[]byte); ok {
		return p
	}
	buf := make([]byte, 0, 512)
	return &buf
}

func (b *Broker) putBuf(p *[]byte) {
	if cap(*p) <= maxPooledBuf {
		b.bufs.Put(p)
	}
}

// Close unregisters every node, stops the probe and, when New dialled the
// connection, closes it. It returns once no handler is being called.
// Later calls return nil; other methods return ErrClosed.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed.Swap(true) {
		b.mu.Unlock()
		return nil
	}
	nodes := b.nodes
	b.nodes = nil
	b.mu.Unlock()
	close(b.stop)
	<-b.probeDone
	for _, n := range nodes {
		n.shutdown()
	}
	for _, n := range nodes {
		_ = n.wait(context.Background())
	}
	if b.owned {
		b.nc.Close()
	}
	return nil
}
