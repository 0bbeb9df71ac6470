package directupgrade

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configures a Listener. The zero value works.
type Options struct {
	// Takes reports whether the parsed request is served directly. Nil
	// takes every GET that asks to upgrade to WebSocket.
	Takes func(r *http.Request) bool
	// Handler serves the requests Takes accepts. It must be set.
	Handler http.Handler
	// HeadTimeout bounds how long a connection may take to send its
	// request head before it is handed to the http.Server anyway (which
	// then applies its own ReadHeaderTimeout); default 10 s.
	HeadTimeout time.Duration
	// MaxHeadBytes is the largest head served directly; a longer one is
	// handed over (net/http applies its MaxHeaderBytes). Default 4 KiB, the
	// size of the bufio.Reader net/http gives each connection.
	MaxHeadBytes int
	// OnPanic, when set, is told of a panic in Handler (the connection is
	// closed, the server goes on), as net/http logs one.
	OnPanic func(v any)
}

const (
	defaultHeadTimeout  = 10 * time.Second
	defaultMaxHeadBytes = 4 << 10
)

// Listener is a net.Listener that serves WebSocket upgrades itself and
// returns every other connection from Accept.
type Listener struct {
	inner   net.Listener
	opts    Options
	bufs    sync.Pool // *headBuf
	parsers sync.Pool // *parser

	handoff chan net.Conn
	errs    chan error
	done    chan struct{}

	// mu guards reading: the connections whose head is being read, closed
	// by Close so that none waits out its HeadTimeout.
	mu      sync.Mutex
	closed  bool
	reading map[net.Conn]struct{}
	wg      sync.WaitGroup // the accept pump and every head reader
}

// New wraps ln. Close the Listener (the http.Server does, on Shutdown or
// Close) to stop it.
func New(ln net.Listener, o Options) *Listener {
	if o.HeadTimeout <= 0 {
		o.HeadTimeout = defaultHeadTimeout
	}
	if o.MaxHeadBytes <= 0 {
		o.MaxHeadBytes = defaultMaxHeadBytes
	}
	if o.Takes == nil {
		o.Takes = IsUpgrade
	}
	l := &Listener{
		inner:   ln,
		opts:    o,
		handoff: make(chan net.Conn),
		errs:    make(chan error),
		done:    make(chan struct{}),
		reading: make(map[net.Conn]struct{}),
	}
	l.bufs.New = func() any { return &headBuf{b: make([]byte, o.MaxHeadBytes)} }
	l.parsers.New = func() any { return newParser(o.MaxHeadBytes) }
	l.wg.Add(1)
	go l.pump()
	return l
}

// IsUpgrade reports whether r is a GET asking to upgrade to WebSocket.
func IsUpgrade(r *http.Request) bool {
	if r.Method != http.MethodGet || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	for _, v := range r.Header.Values("Connection") {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), "upgrade") {
				return true
			}
		}
	}
	return false
}

// pump accepts connections and starts a head reader for each; an accept
// error goes to Accept, which hands it to the http.Server (whose backoff on
// temporary errors then paces this loop too).
func (l *Listener) pump() {
	defer l.wg.Done()
	for {
		c, err := l.inner.Accept()
		if err != nil {
			select {
			case l.errs <- err:
			case <-l.done:
				return
			}
			continue
		}
		if !l.track(c) {
			_ = c.Close()
			continue
		}
		l.wg.Add(1)
		go l.serve(c)
	}
}

// track records c as reading its head; false once the Listener is closed.
func (l *Listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.reading[c] = struct{}{}
	return true
}

// untrack reports false when Close has closed c meanwhile.
func (l *Listener) untrack(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.reading[c]
	delete(l.reading, c)
	return ok
}

// serve reads c's head and serves it directly or hands it over. Close
// waits for the reading, not for a handler: that may run hooks for long.
func (l *Listener) serve(c net.Conn) {
	if w, r := l.read(c); w != nil {
		l.run(w, r)
	}
}

// read returns the request to serve directly, or nil when c was handed
// over or closed.
func (l *Listener) read(c net.Conn) (*response, *http.Request) {
	defer l.wg.Done()
	if _, plain := c.(*net.TCPConn); !plain {
		if l.untrack(c) {
			l.give(c)
		}
		return nil, nil
	}
	bp := l.bufs.Get().(*headBuf)
	buf := bp.b
	n, end, err := readHead(c, buf, l.opts.HeadTimeout)
	if !l.untrack(c) { // closed by Close
		l.bufs.Put(bp)
		return nil, nil
	}
	if end < 0 {
		if n == 0 && err != nil && !timedOut(err) {
			l.bufs.Put(bp)
			_ = c.Close() // gone before a byte: nothing to serve
			return nil, nil
		}
		l.giveRead(c, buf[:n], bp)
		return nil, nil
	}
	p := l.parsers.Get().(*parser)
	r, perr := p.parse(buf[:end])
	l.parsers.Put(p)
	if perr != nil || r.ContentLength != 0 || len(r.TransferEncoding) > 0 || r.Host == "" || !l.opts.Takes(r) {
		l.giveRead(c, buf[:n], bp)
		return nil, nil
	}
	// The context stays context.Background: setting one (for
	// http.LocalAddrContextKey) copies the request, and a spark keeps its
	// request context's values for its lifetime.
	r.RemoteAddr = c.RemoteAddr().String()
	w := &response{conn: c}
	if n > end {
		w.after = append([]byte(nil), buf[end:n]...)
	}
	l.bufs.Put(bp)
	return w, r
}

// run serves r on w and ends a response the handler did not hijack.
func (l *Listener) run(w *response, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler && l.opts.OnPanic != nil {
				l.opts.OnPanic(v)
			}
			if !w.hijacked {
				_ = w.conn.Close()
			}
		}
	}()
	l.opts.Handler.ServeHTTP(w, r)
	w.finish()
}

// giveRead hands c over with the bytes read from it so far.
func (l *Listener) giveRead(c net.Conn, read []byte, bp *headBuf) {
	var pre []byte
	if len(read) > 0 {
		pre = append([]byte(nil), read...)
	}
	l.bufs.Put(bp)
	l.give(&prefixConn{Conn: c, pre: pre})
}

// give hands c to Accept, or closes it when the Listener closes first.
func (l *Listener) give(c net.Conn) {
	select {
	case l.handoff <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// Accept returns the next connection for the http.Server.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.handoff:
		return c, nil
	case err := <-l.errs:
		return nil, err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting, closes the connections whose head is still being
// read and waits for their readers; a connection already served directly
// belongs to its handler (a hijacked WebSocket to its server).
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	for c := range l.reading {
		_ = c.Close()
	}
	clear(l.reading)
	l.mu.Unlock()
	err := l.inner.Close()
	l.wg.Wait()
	return err
}

// Addr is the wrapped listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }
