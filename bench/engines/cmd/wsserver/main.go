// Command wsserver is a WebSocket echo server used to compare Go WebSocket
// engines. Every engine echoes each text message back as text (binary as
// binary) at path /primus. /stats reports runtime figures as JSON (with
// ?gc=1 it runs a GC and returns free pages to the OS first, so heap
// figures are live bytes and VmRSS right after is the steady-state footprint).
//
// Engines (-engine):
//
//	gws              github.com/lxzan/gws on net/http, one ReadLoop goroutine per conn
//	coder            github.com/coder/websocket on net/http, read loop in handler goroutine
//	nbio-std         github.com/lesismal/nbio/nbhttp/websocket on net/http, blocking mode
//	                 (one reader goroutine per conn, the upgrader's default for std conns)
//	nbio-std-poller  same mount, but the hijacked conn is moved onto nbio's epoll poller
//	                 (UpgradeAndTransferConnToPoller): no goroutine per idle conn
//	nbio-native      nbio's own nbhttp.Engine listener (not net/http) with the same handler
//	gobwas           github.com/gobwas/ws low level on net/http, goroutine per conn
//
// The process stops by itself after -maxlife.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	coder "github.com/coder/websocket"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/lxzan/gws"
)

var (
	engine  = flag.String("engine", "gws", "gws|coder|nbio-std|nbio-std-poller|nbio-native|gobwas")
	addr    = flag.String("addr", "127.0.0.1:9000", "listen address (loopback only)")
	rbuf    = flag.Int("rbuf", 0, "per-connection read buffer size in bytes (0 = engine default; gws, nbio-std, gobwas)")
	deflate = flag.String("deflate", "off", "permessage-deflate: off | nocontext (no context takeover) | context (context takeover where supported)")
	npoller = flag.Int("npoller", 0, "nbio engines: poller goroutines (0 = nbio default, NumCPU/4 min 1)")
	maxlife = flag.Duration("maxlife", 2*time.Minute, "exit after this long")
)

func main() {
	flag.Parse()
	logging.SetLevel(logging.LevelError)

	mux := http.NewServeMux()
	mux.HandleFunc("/stats", statsHandler)

	var stop func()
	var nbUp *nbws.Upgrader
	switch *engine {
	case "gws":
		mux.Handle("/primus", gwsHandler())
	case "coder":
		mux.Handle("/primus", coderHandler())
	case "nbio-std", "nbio-std-poller":
		h, s := nbioStdHandler(*engine == "nbio-std-poller")
		mux.Handle("/primus", h)
		stop = s
	case "gobwas":
		mux.Handle("/primus", gobwasHandler())
	case "nbio-native":
		// nbio cannot serve from net/http's listener here: its native engine owns
		// the listener and parses HTTP itself; the handler is still an http.Handler.
		h, up := nbioHandler()
		mux.Handle("/primus", h)
		nbUp = up
	default:
		log.Fatalf("unknown engine %q", *engine)
	}

	if *engine == "nbio-native" {
		e := nbhttp.NewEngine(nbhttp.Config{
			Network:                 "tcp",
			Addrs:                   []string{*addr},
			Handler:                 mux,
			NPoller:                 *npoller,
			ReleaseWebsocketPayload: true,
		})
		nbUp.Engine = e // the upgrader needs the engine (allocator) even on its own listener
		if err := e.Start(); err != nil {
			log.Fatal(err)
		}
		ready()
		waitExit()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = e.Shutdown(ctx)
		return
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	ready()
	waitExit()
	_ = srv.Close()
	if stop != nil {
		stop()
	}
}

func ready() {
	fmt.Printf("ready pid=%d engine=%s addr=%s rbuf=%d npoller=%d deflate=%s\n", os.Getpid(), *engine, *addr, *rbuf, *npoller, *deflate)
}

func waitExit() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case <-time.After(*maxlife):
		fmt.Println("maxlife reached, exiting")
	}
}

func statsHandler(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("gc") == "1" {
		runtime.GC()
		debug.FreeOSMemory() // GC again and return freed pages to the OS
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]uint64{
		"goroutines":  uint64(runtime.NumGoroutine()),
		"heap_alloc":  ms.HeapAlloc,
		"heap_inuse":  ms.HeapInuse,
		"stack_inuse": ms.StackInuse,
		"sys":         ms.Sys,
	})
}

// ---------------------------------------------------------------- gws

type gwsEcho struct{ gws.BuiltinEventHandler }

func (gwsEcho) OnPing(c *gws.Conn, payload []byte) { _ = c.WritePong(payload) }

func (gwsEcho) OnMessage(c *gws.Conn, m *gws.Message) {
	_ = c.WriteMessage(m.Opcode, m.Bytes())
	_ = m.Close()
}

func gwsHandler() http.Handler {
	opt := &gws.ServerOption{
		CheckUtf8Enabled: true,
		ReadBufferSize:   *rbuf, // 0 -> 4096 default
	}
	switch *deflate {
	case "nocontext":
		opt.PermessageDeflate = gws.PermessageDeflate{Enabled: true}
	case "context":
		opt.PermessageDeflate = gws.PermessageDeflate{Enabled: true, ServerContextTakeover: true, ClientContextTakeover: true}
	}
	up := gws.NewUpgrader(gwsEcho{}, opt)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r)
		if err != nil {
			return
		}
		go c.ReadLoop()
	})
}

// ---------------------------------------------------------------- coder/websocket

func coderHandler() http.Handler {
	mode := coder.CompressionDisabled
	switch *deflate {
	case "nocontext":
		mode = coder.CompressionNoContextTakeover
	case "context":
		mode = coder.CompressionContextTakeover
	}
	opts := &coder.AcceptOptions{CompressionMode: mode}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx := context.Background()
		var buf bytes.Buffer
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				return
			}
			buf.Reset()
			if _, err := buf.ReadFrom(rd); err != nil {
				return
			}
			// coder/websocket does not validate UTF-8 itself: done here.
			if typ == coder.MessageText && !utf8.Valid(buf.Bytes()) {
				_ = c.Close(coder.StatusInvalidFramePayloadData, "invalid utf-8")
				return
			}
			if err := c.Write(ctx, typ, buf.Bytes()); err != nil {
				return
			}
		}
	})
}

// ---------------------------------------------------------------- nbio

func nbioHandler() (http.Handler, *nbws.Upgrader) {
	up := nbws.NewUpgrader()
	up.EnableCompression(*deflate != "off") // nbio negotiates no_context_takeover only
	if *rbuf > 0 {
		up.BlockingModReadBufferSize = *rbuf
	}
	up.OnMessage(func(c *nbws.Conn, mt nbws.MessageType, data []byte) {
		_ = c.WriteMessage(mt, data)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = up.Upgrade(w, r, nil)
	}), up
}

// nbioStdHandler mounts nbio's upgrader on net/http. nbio needs an
// nbhttp.Engine even then (UTF-8 checker, allocator, timers, and the poller
// when conns are transferred), started without listeners.
func nbioStdHandler(poller bool) (http.Handler, func()) {
	e := nbhttp.NewEngine(nbhttp.Config{ReleaseWebsocketPayload: true, NPoller: *npoller})
	if err := e.Start(); err != nil {
		log.Fatal(err)
	}
	up := nbws.NewUpgrader()
	up.Engine = e
	up.EnableCompression(*deflate != "off") // nbio negotiates no_context_takeover only
	if *rbuf > 0 {
		up.BlockingModReadBufferSize = *rbuf
	}
	up.BlockingModTrasferConnToPoller = poller
	up.OnMessage(func(c *nbws.Conn, mt nbws.MessageType, data []byte) {
		_ = c.WriteMessage(mt, data)
	})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = up.Upgrade(w, r, nil)
	})
	return h, func() { e.Stop() }
}

// ---------------------------------------------------------------- gobwas/ws

var gobwasWritePool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func gobwasHandler() http.Handler {
	size := *rbuf
	if size <= 0 {
		size = 1024
	}
	up := ws.HTTPUpgrader{}
	if *deflate != "off" {
		log.Printf("gobwas: -deflate not wired in this bench (wsflate needs extra glue)")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _, err := up.Upgrade(r, w)
		if err != nil {
			return
		}
		go gobwasLoop(conn, size)
	})
}

func gobwasLoop(conn net.Conn, size int) {
	defer conn.Close()
	br := bufio.NewReaderSize(conn, size)
	var wmu sync.Mutex
	ctl := wsutil.ControlFrameHandler(lockedWriter{conn, &wmu}, ws.StateServerSide)
	rd := &wsutil.Reader{
		Source:         br,
		State:          ws.StateServerSide,
		CheckUTF8:      true,
		OnIntermediate: ctl,
	}
	var payload bytes.Buffer
	for {
		hdr, err := rd.NextFrame()
		if err != nil {
			return
		}
		if hdr.OpCode.IsControl() {
			if err := ctl(hdr, rd); err != nil {
				return
			}
			continue
		}
		payload.Reset()
		if _, err := payload.ReadFrom(rd); err != nil {
			if errors.Is(err, wsutil.ErrInvalidUTF8) {
				_ = ws.WriteFrame(conn, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusInvalidFramePayloadData, "invalid utf-8")))
			}
			return
		}
		b := gobwasWritePool.Get().(*bytes.Buffer)
		b.Reset()
		_ = ws.WriteHeader(b, ws.Header{Fin: true, OpCode: hdr.OpCode, Length: int64(payload.Len())})
		b.Write(payload.Bytes())
		wmu.Lock()
		_, err = conn.Write(b.Bytes())
		wmu.Unlock()
		gobwasWritePool.Put(b)
		if err != nil {
			return
		}
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
