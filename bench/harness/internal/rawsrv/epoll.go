//go:build linux

package rawsrv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/allspark/allspark/bench/harness/internal/wsframe"
)

// Options configures ServeEpoll. The zero value works.
type Options struct {
	// Pollers is the number of epoll instances, each waited on by one
	// goroutine; connections are dealt over them in turn. Default
	// GOMAXPROCS.
	Pollers int
	// ReadBuffer is each poller's read buffer, the only one there is: a
	// connection borrows it while it is being read and keeps bytes of its
	// own only when a frame is cut across reads. Default 64 KiB.
	ReadBuffer int
}

// maxFrame is the largest payload either engine accepts (as in serve).
const maxFrame = 1 << 20

// handshakeTimeout bounds the one goroutine a connection ever has, the one
// that reads its upgrade request.
const handshakeTimeout = 10 * time.Second

// ServeEpoll is Serve with an event-driven read path: the wire behaviour is
// the same (handshake, rooms joined before the 101, publish, echo, ping,
// close), but an open connection has no goroutine and no read buffer. Each
// is registered, level-triggered with EPOLLONESHOT, in one of a few epoll
// instances; the poller goroutine that gets its readiness reads into the
// poller's buffer, handles every whole frame, keeps a cut frame's bytes,
// and re-arms it. ONESHOT means one poller at a time per connection, so its
// frames are handled in order without a lock.
//
// The descriptor is only ever touched inside syscall.RawConn Read or
// Control, which hold the net.Conn's reference on it: once Close has run
// they fail instead of reaching a number the kernel may have given to a
// new socket. Events carry a connection id, never the descriptor, so a
// stale event finds nothing. Writes are those of Serve (a writer goroutine
// only while there is something to send).
//
// It returns when ctx ends (it then closes ln and every connection) or
// Accept fails.
func ServeEpoll(ctx context.Context, ln net.Listener, o Options) error {
	if o.Pollers <= 0 {
		o.Pollers = runtime.GOMAXPROCS(0)
	}
	if o.ReadBuffer <= 0 {
		o.ReadBuffer = 64 << 10
	}
	s := &epollServer{h: &hub{rooms: map[string]map[*client]struct{}{}}}
	for range o.Pollers {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			s.closePollers()
			return err
		}
		s.pollers = append(s.pollers, &poller{s: s, epfd: fd, conns: map[uint64]*econn{}, buf: make([]byte, o.ReadBuffer)})
	}
	var wg sync.WaitGroup
	for _, p := range s.pollers {
		wg.Go(func() { p.run(ctx) })
	}
	defer func() {
		wg.Wait()
		for _, p := range s.pollers {
			p.closeAll()
		}
		s.closePollers()
	}()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go s.admit(c)
	}
}

type epollServer struct {
	h       *hub
	pollers []*poller
	ids     atomic.Uint64
}

func (s *epollServer) closePollers() {
	for _, p := range s.pollers {
		_ = unix.Close(p.epfd)
	}
}

// econn is one open connection: no goroutine, no buffer while idle.
type econn struct {
	id      uint64
	c       net.Conn
	rc      syscall.RawConn
	cl      *client
	rooms   []string
	partial []byte // a frame cut across reads; nil otherwise
}

// admit runs the handshake (joining the rooms before the 101, as Serve
// does), then hands the connection to a poller; the goroutine ends there.
func (s *epollServer) admit(c net.Conn) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		c.Close()
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		c.Close()
		return
	}
	ec := &econn{id: s.ids.Add(1), c: c, rc: rc, cl: &client{c: c}}
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	br := bufio.NewReaderSize(c, 512)
	_, err = wsframe.AcceptThen(c, br, func(target string) {
		if u, err := url.ParseRequestURI(target); err == nil {
			for _, r := range strings.Split(u.Query().Get("rooms"), ",") {
				if r != "" {
					ec.rooms = append(ec.rooms, r)
				}
			}
		}
		s.h.join(ec.cl, ec.rooms)
	})
	p := s.pollers[ec.id%uint64(len(s.pollers))]
	if err != nil {
		p.drop(ec)
		return
	}
	_ = c.SetDeadline(time.Time{})
	if n := br.Buffered(); n > 0 {
		// Frames sent right behind the request: handle them now, with
		// bytes of their own (the poller's buffer is the poller's).
		b, _ := br.Peek(n)
		var out []byte
		if !p.consume(ec, append([]byte(nil), b...), &out) {
			p.drop(ec)
			return
		}
	}
	p.mu.Lock()
	p.conns[ec.id] = ec
	p.mu.Unlock()
	if err := p.arm(ec, unix.EPOLL_CTL_ADD); err != nil {
		p.drop(ec)
	}
}

// poller is one epoll instance and the goroutine waiting on it.
type poller struct {
	s     *epollServer
	epfd  int
	mu    sync.Mutex
	conns map[uint64]*econn
	buf   []byte // read buffer, used by the poller goroutine only
	out   []byte // scratch for echo/pong frames (client.write copies)
}

// arm registers (ADD) or re-arms (MOD) ec for one readiness report.
func (p *poller) arm(ec *econn, op int) error {
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT,
		Fd:     int32(ec.id),
		Pad:    int32(ec.id >> 32),
	}
	var cerr error
	err := ec.rc.Control(func(fd uintptr) {
		cerr = unix.EpollCtl(p.epfd, op, int(fd), &ev)
	})
	if err != nil {
		return err
	}
	return cerr
}

// pollWait bounds each epoll_wait so a poller notices the end of ctx.
const pollWait = 250 // ms

func (p *poller) run(ctx context.Context) {
	events := make([]unix.EpollEvent, 256)
	for ctx.Err() == nil {
		n, err := unix.EpollWait(p.epfd, events, pollWait)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			p.mu.Lock()
			ec := p.conns[id]
			p.mu.Unlock()
			if ec != nil {
				p.service(ec)
			}
		}
	}
}

// readsPerEvent bounds the reads one readiness report gets before the
// connection is re-armed, so a busy sender does not starve the others on
// its poller (level-triggered: re-arming reports what is left at once).
const readsPerEvent = 4

// service reads what ec has, handles it, and re-arms it.
func (p *poller) service(ec *econn) {
	for range readsPerEvent {
		var n int
		var rerr error
		err := ec.rc.Read(func(fd uintptr) bool {
			n, rerr = unix.Read(int(fd), p.buf)
			return true // never park in the runtime's poller
		})
		if err != nil { // closed by us
			p.drop(ec)
			return
		}
		if errors.Is(rerr, unix.EINTR) {
			continue
		}
		if errors.Is(rerr, unix.EAGAIN) {
			break
		}
		if rerr != nil || n <= 0 { // error, or the peer's FIN
			p.drop(ec)
			return
		}
		if !p.consume(ec, p.buf[:n], &p.out) {
			p.drop(ec)
			return
		}
		if n < len(p.buf) {
			break // most likely all there was
		}
	}
	if err := p.arm(ec, unix.EPOLL_CTL_MOD); err != nil {
		p.drop(ec)
	}
}

// consume handles every whole frame in ec's kept bytes followed by data and
// keeps the rest; out is the caller's scratch for the frames it answers
// with. It reports false when the connection must end (a close frame, a
// protocol error).
func (p *poller) consume(ec *econn, data []byte, out *[]byte) bool {
	work := data
	if len(ec.partial) > 0 {
		ec.partial = append(ec.partial, data...)
		work = ec.partial
	}
	for {
		hd, pl, n, err := wsframe.ParseFrame(work, maxFrame)
		if err != nil {
			return false
		}
		if n == 0 {
			break
		}
		work = work[n:]
		if !p.handle(ec, hd, pl, out) {
			return false
		}
	}
	switch {
	case len(work) == 0:
		ec.partial = nil // idle again: nothing kept
	default:
		// append to [:0] moves the tail to the front (memmove) when work
		// already lies in partial, and copies it out of the poller's
		// buffer otherwise.
		ec.partial = append(ec.partial[:0], work...)
	}
	return true
}

// handle is Serve's frame switch.
func (p *poller) handle(ec *econn, hd wsframe.Header, pl []byte, out *[]byte) bool {
	switch hd.Op {
	case wsframe.OpPing:
		*out = wsframe.AppendFrame((*out)[:0], wsframe.OpPong, pl, nil)
		ec.cl.write(*out)
	case wsframe.OpClose:
		*out = wsframe.AppendFrame((*out)[:0], wsframe.OpClose, pl, nil)
		ec.cl.closeWith(*out)
		return false
	case wsframe.OpText, wsframe.OpBinary:
		if len(pl) > 0 && pl[0] == 'P' {
			room, data, ok := bytes.Cut(pl[1:], []byte("\n"))
			if ok {
				p.s.h.publish(string(room), wsframe.AppendFrame(nil, hd.Op, data, nil))
			}
			return true
		}
		*out = wsframe.AppendFrame((*out)[:0], hd.Op, pl, nil)
		ec.cl.write(*out)
	}
	return true
}

// drop ends ec: out of its rooms and its poller, then closed (which also
// takes it out of the epoll set).
func (p *poller) drop(ec *econn) {
	p.mu.Lock()
	delete(p.conns, ec.id)
	p.mu.Unlock()
	p.s.h.leave(ec.cl, ec.rooms)
	ec.cl.mu.Lock()
	ec.cl.dead = true
	ec.cl.mu.Unlock()
	_ = ec.c.Close()
}

func (p *poller) closeAll() {
	p.mu.Lock()
	conns := p.conns
	p.conns = map[uint64]*econn{}
	p.mu.Unlock()
	for _, ec := range conns {
		_ = ec.c.Close()
	}
}
