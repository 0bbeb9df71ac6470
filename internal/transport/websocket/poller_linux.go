//go:build linux

package websocket

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// poller is one epoll instance and the goroutine that waits on it. It only
// dispatches: a readable connection is handed to a goroutine of its own
// (pollConn.ready), which reads and delivers, so a handler that blocks
// delays its own connection and nobody else's.
//
// The epoll descriptor is itself waited for on the runtime's netpoller (an
// epoll instance is readable while it has events): the wait loop parks like
// any goroutine reading a socket, instead of holding a thread in
// epoll_wait that must win a P back on every wake-up, and it is woken by
// the scheduler's own polling when the machine is busy.
//
// Connections are registered level-triggered with EPOLLONESHOT: an event
// disarms the descriptor until the connection's reader re-arms it after
// reading to EAGAIN (or a short read), and the re-arm reports at once if
// bytes arrived in between, so no wake-up is lost and no two readers run.
// A busy connection's reader lingers instead of re-arming
// (poll_reader.go), so a connection that keeps sending costs no epoll_ctl
// per message.
//
// The table maps descriptor numbers to connections. A descriptor is only
// ever touched through its net.Conn's syscall.RawConn, which holds the
// descriptor open while the call runs, so a closed connection's number,
// reused by a new one, is never read on its behalf; an event that was
// already queued for the old one at most wakes the new one spuriously, and
// its reader finds nothing to read.
//
// Lock order: engine.mu, then poller.mu.
type poller struct {
	epfd int
	file *os.File        // epfd on the runtime's netpoller; closing it ends the loop
	raw  syscall.RawConn // file's

	mu    sync.Mutex
	conns []*pollConn // by descriptor number; guarded by mu
	n     int         // registered connections; guarded by engine.mu
}

// errNotPollable is newPoller's answer where the runtime cannot wait for an
// epoll descriptor.
var errNotPollable = errors.New("websocket: the runtime cannot poll an epoll descriptor")

// newPoller creates the epoll instance and starts its wait loop.
func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("websocket: epoll_create1: %w", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("websocket: epoll descriptor: %w", err)
	}
	p := &poller{epfd: epfd, file: os.NewFile(uintptr(epfd), "epoll")}
	// A descriptor the runtime could not register takes no deadline.
	if err := p.file.SetReadDeadline(time.Time{}); err != nil {
		p.file.Close()
		return nil, errNotPollable
	}
	if p.raw, err = p.file.SyscallConn(); err != nil {
		p.file.Close()
		return nil, fmt.Errorf("websocket: epoll descriptor: %w", err)
	}
	go p.loop()
	return p, nil
}

// stop ends the wait loop and closes the epoll instance (once the loop has
// let go of it).
func (p *poller) stop() {
	p.file.Close()
}

// loop waits for readiness and dispatches it until stopped.
func (p *poller) loop() {
	events := make([]syscall.EpollEvent, 256)
	_ = p.raw.Read(func(fd uintptr) bool {
		for {
			n, err := syscall.EpollWait(int(fd), events, 0)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return true // EBADF and the like: nothing more can be waited for
			}
			if n == 0 {
				return false // park on the netpoller until there are events
			}
			p.dispatch(events[:n])
		}
	})
}

// dispatch hands each event's connection its readiness.
func (p *poller) dispatch(events []syscall.EpollEvent) {
	for i := range events {
		fd := int(events[i].Fd)
		p.mu.Lock()
		var c *pollConn
		if fd < len(p.conns) {
			c = p.conns[fd]
		}
		p.mu.Unlock()
		if c != nil {
			c.ready()
		}
	}
}

// add enters c in the table under descriptor fd.
func (p *poller) add(fd int, c *pollConn) {
	p.mu.Lock()
	if fd >= len(p.conns) {
		grown := make([]*pollConn, max(fd+1, 2*len(p.conns), 1024))
		copy(grown, p.conns)
		p.conns = grown
	}
	p.conns[fd] = c
	p.mu.Unlock()
}

// remove takes c out of the table, unless its number already names a newer
// connection.
func (p *poller) remove(fd int, c *pollConn) {
	p.mu.Lock()
	if fd < len(p.conns) && p.conns[fd] == c {
		p.conns[fd] = nil
	}
	p.mu.Unlock()
}

// arm (re-)enables one readiness event for fd; the first call adds it.
// One shot at a time: an event disarms fd until its reader lets go, so a
// reader, running or lingering, is never woken through the poller.
func (p *poller) arm(fd int, first bool) error {
	op := syscall.EPOLL_CTL_MOD
	if first {
		op = syscall.EPOLL_CTL_ADD
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollOneShot, Fd: int32(fd)}
	return syscall.EpollCtl(p.epfd, op, fd, &ev)
}

// epollOneShot is EPOLLONESHOT (1<<30), which package syscall names with a
// type that does not fit EpollEvent.Events on every architecture.
const epollOneShot = 1 << 30
