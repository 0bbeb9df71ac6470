//go:build linux

package websocket

import (
	"fmt"
	"sync"
	"syscall"
)

// poller is one epoll instance and the goroutine that waits on it. It only
// dispatches: a readable connection is handed to a goroutine of its own
// (pollConn.ready), which reads, delivers and re-arms, so a handler that
// blocks delays its own connection and nobody else's.
//
// Connections are registered level-triggered with EPOLLONESHOT: an event
// disarms the descriptor until the connection's reader re-arms it after
// reading to EAGAIN (or a short read), and the re-arm reports at once if
// bytes arrived in between, so no wake-up is lost and no two readers run.
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
	wake [2]int // a pipe: a byte on wake[1] ends the wait loop

	mu    sync.Mutex
	conns []*pollConn // by descriptor number; guarded by mu
	n     int         // registered connections; guarded by engine.mu
}

// newPoller creates the epoll instance and starts its wait loop.
func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("websocket: epoll_create1: %w", err)
	}
	p := &poller{epfd: epfd}
	if err := syscall.Pipe2(p.wake[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("websocket: pipe2: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.wake[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		p.closeFDs()
		return nil, fmt.Errorf("websocket: epoll_ctl: %w", err)
	}
	go p.loop()
	return p, nil
}

func (p *poller) closeFDs() {
	syscall.Close(p.wake[0])
	syscall.Close(p.wake[1])
	syscall.Close(p.epfd)
}

// stop ends the wait loop; the loop closes the descriptors.
func (p *poller) stop() {
	_, _ = syscall.Write(p.wake[1], []byte{1})
}

// loop waits for readiness and dispatches it until stopped.
func (p *poller) loop() {
	defer p.closeFDs()
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return // EBADF and the like: nothing more can be waited for
		}
		for i := range events[:n] {
			fd := int(events[i].Fd)
			if fd == p.wake[0] {
				return
			}
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
