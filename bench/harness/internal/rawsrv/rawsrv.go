package rawsrv

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/wsframe"
)

// Serve accepts connections on ln until ctx ends (it then closes ln) or
// Accept fails; connections already open stay until their peers close them.
func Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	h := &hub{rooms: map[string]map[*client]struct{}{}}
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go h.serve(c)
	}
}

// client is one connection. Writes go to a pending buffer; a writer
// goroutine, started only while there is something to write, sends
// everything pending in one write — several frames per syscall under load,
// and no goroutine at all while idle.
type client struct {
	c       net.Conn
	mu      sync.Mutex
	pending []byte
	spare   []byte
	writing bool
	dead    bool
}

func (cl *client) write(b []byte) {
	cl.mu.Lock()
	if cl.dead {
		cl.mu.Unlock()
		return
	}
	cl.pending = append(cl.pending, b...)
	start := !cl.writing
	cl.writing = true
	cl.mu.Unlock()
	if start {
		go cl.flush()
	}
}

func (cl *client) flush() {
	for {
		cl.mu.Lock()
		if len(cl.pending) == 0 || cl.dead {
			cl.writing = false
			cl.mu.Unlock()
			return
		}
		buf := cl.pending
		cl.pending = cl.spare[:0]
		cl.mu.Unlock()
		_, err := cl.c.Write(buf)
		cl.mu.Lock()
		cl.spare = buf[:0]
		if cap(cl.spare) > 64<<10 {
			cl.spare = nil // do not keep a burst's buffer for good
		}
		if err != nil {
			cl.dead = true
		}
		cl.mu.Unlock()
	}
}

type hub struct {
	mu    sync.RWMutex
	rooms map[string]map[*client]struct{}
}

func (h *hub) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 512)
	cl := &client{c: c}
	var joined []string
	// Join before the 101: a client that has connected is a member, so a
	// publisher that starts once everyone is connected loses nothing.
	_, err := wsframe.AcceptThen(c, br, func(target string) {
		if u, err := url.ParseRequestURI(target); err == nil {
			for _, r := range strings.Split(u.Query().Get("rooms"), ",") {
				if r != "" {
					joined = append(joined, r)
				}
			}
		}
		h.join(cl, joined)
	})
	if err != nil {
		h.leave(cl, joined)
		return
	}
	defer h.leave(cl, joined)
	var buf, out []byte
	for {
		hd, p, err := wsframe.ReadFrame(br, buf, 1<<20)
		if err != nil {
			return
		}
		if cap(p) > cap(buf) {
			buf = p[:0]
		}
		switch hd.Op {
		case wsframe.OpPing:
			out = wsframe.AppendFrame(out[:0], wsframe.OpPong, p, nil)
			cl.write(out)
		case wsframe.OpClose:
			out = wsframe.AppendFrame(out[:0], wsframe.OpClose, p, nil)
			cl.closeWith(out) // now: the deferred Close would race a writer goroutine
			return
		case wsframe.OpText, wsframe.OpBinary:
			if len(p) > 0 && p[0] == 'P' {
				room, data, ok := bytes.Cut(p[1:], []byte("\n"))
				if ok {
					h.publish(string(room), wsframe.AppendFrame(nil, hd.Op, data, nil))
				}
				continue
			}
			out = wsframe.AppendFrame(out[:0], hd.Op, p, nil)
			cl.write(out)
		}
	}
}

func (h *hub) join(cl *client, rooms []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range rooms {
		m := h.rooms[r]
		if m == nil {
			m = map[*client]struct{}{}
			h.rooms[r] = m
		}
		m[cl] = struct{}{}
	}
}

func (h *hub) leave(cl *client, rooms []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range rooms {
		delete(h.rooms[r], cl)
	}
}

// publish queues the pre-built frame for every member; each member's
// writer sends it (with whatever else is pending) in its own goroutine.
func (h *hub) publish(room string, frame []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for cl := range h.rooms[room] {
		cl.write(frame)
	}
}

// closeWrite bounds the write of a close frame made by a reader.
const closeWrite = time.Second

// closeWith writes frame (the answer to a close) now, after anything a
// writer goroutine is sending, and stops further writes; the caller then
// closes the socket.
func (cl *client) closeWith(frame []byte) {
	cl.mu.Lock()
	if cl.dead {
		cl.mu.Unlock()
		return
	}
	cl.dead = true
	cl.mu.Unlock()
	_ = cl.c.SetWriteDeadline(time.Now().Add(closeWrite))
	_, _ = cl.c.Write(frame)
}
