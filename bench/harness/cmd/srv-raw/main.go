// Command srv-raw is the benchmark's limit: no framework, no encoding. It
// accepts WebSocket upgrades on raw TCP (internal/wsframe), joins each
// connection to the rooms in its URL (/raw?rooms=a,b), writes a frame that
// starts with 'P' ("P<room>\n<data>") to every member of the room as one
// frame built once, and writes any other frame back to its sender.
//
//	srv-raw [-addr 127.0.0.1:9100] [-reuseport]
//
// One goroutine per connection reads; a publish is written from the
// publisher's goroutine, the member list split over GOMAXPROCS goroutines.
// It answers pings and closes, and nothing else of RFC 6455 that the
// benchmark does not use.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/reuseport"
	"github.com/allspark/allspark/bench/harness/internal/wsframe"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9100", "listen address (loopback)")
	share := flag.Bool("reuseport", false, "listen with SO_REUSEPORT")
	lifetime := flag.Duration("lifetime", 30*time.Minute, "exit after this long whatever happens")
	flag.Parse()
	if err := run(*addr, *share, *lifetime); err != nil {
		fmt.Fprintln(os.Stderr, "srv-raw:", err)
		os.Exit(1)
	}
}

func run(addr string, share bool, lifetime time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, lifetime)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	ln, err := reuseport.Listen(ctx, addr, share)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	h := &hub{rooms: map[string]map[*client]struct{}{}}
	fmt.Println("READY")
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

type client struct {
	c  net.Conn
	mu sync.Mutex
}

func (cl *client) write(b []byte) {
	cl.mu.Lock()
	_, _ = cl.c.Write(b)
	cl.mu.Unlock()
}

type hub struct {
	mu    sync.RWMutex
	rooms map[string]map[*client]struct{}
}

func (h *hub) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 512)
	target, err := wsframe.Accept(c, br)
	if err != nil {
		return
	}
	cl := &client{c: c}
	var joined []string
	if u, err := url.ParseRequestURI(target); err == nil {
		for _, r := range strings.Split(u.Query().Get("rooms"), ",") {
			if r != "" {
				joined = append(joined, r)
			}
		}
	}
	h.join(cl, joined)
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
			cl.write(out)
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

// publish writes the pre-built frame to every member, the members split over
// GOMAXPROCS goroutines.
func (h *hub) publish(room string, frame []byte) {
	h.mu.RLock()
	list := make([]*client, 0, len(h.rooms[room]))
	for cl := range h.rooms[room] {
		list = append(list, cl)
	}
	h.mu.RUnlock()
	shards := runtime.GOMAXPROCS(0)
	if len(list) < 64 {
		shards = 1
	}
	var wg sync.WaitGroup
	per := (len(list) + shards - 1) / shards
	for s := 0; s < len(list); s += per {
		part := list[s:min(s+per, len(list))]
		wg.Go(func() {
			for _, cl := range part {
				cl.write(frame)
			}
		})
	}
	wg.Wait()
}
