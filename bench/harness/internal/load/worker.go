package load

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/hist"
	"github.com/allspark/allspark/bench/harness/internal/proto"
)

// Connected is the worker's first report.
type Connected struct {
	OK       int     `json:"ok"`
	Failed   int     `json:"failed"`
	Ready    int     `json:"ready"`
	Seconds  float64 `json:"seconds"` // from the first dial to the last ready
	FirstErr string  `json:"first_err,omitempty"`
}

// Done is the worker's final report.
type Done struct {
	Alive      int         `json:"alive"`      // connections still open at the end
	Sent       int64       `json:"sent"`       // echo or publish messages sent while measuring
	Deliveries int64       `json:"deliveries"` // payloads received while measuring
	Seconds    float64     `json:"seconds"`    // measured duration
	Stalls     int64       `json:"stalls"`     // published messages abandoned as incomplete
	Errors     int64       `json:"errors"`     // send errors
	FirstErr   string      `json:"first_err,omitempty"`
	Latency    [][2]uint64 `json:"latency,omitempty"` // hist.Buckets
	// CPUSeconds is this worker's own CPU time (user+system) over the
	// measured window: on a shared machine the load generator competes with
	// the server, and this says how much.
	CPUSeconds float64 `json:"cpu_s"`
	// Polls is how many poll GETs were answered in the measured window
	// (poll-fanout): deliveries/polls is the batching the server achieved.
	Polls int64 `json:"polls,omitempty"`
	// Stamped is how many of the deliveries came stamped with their room's
	// position (history-fanout: Config.Recover on a room with history).
	Stamped int64 `json:"stamped,omitempty"`
	// Reconnect is the reconnect scenario's report.
	Reconnect *ReconnectReport `json:"reconnect,omitempty"`
}

// selfCPU is the process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Run executes cfg: connect, report Connected on out, wait for a "go" line on
// ctl, run, report Done on out. It returns early when ctx ends or ctl closes
// before "go".
func Run(ctx context.Context, cfg Config, ctl io.Reader, out io.Writer) error {
	cfg.setDefaults()
	srcs, p, err := cfg.validate()
	if err != nil {
		return err
	}
	if cfg.Scenario == Reconnect {
		return runReconnect(ctx, cfg, srcs, ctl, out)
	}
	if cfg.Recover {
		p = proto.PrimusSession{Primus: proto.Primus{Kind: cfg.Server}}
	}
	w := &worker{cfg: cfg, p: p, srcs: srcs, life: ctx}
	if cfg.Scenario == PollFanout {
		w.hc = &http.Client{Transport: newPollTransport(srcs, cfg.N+cfg.Publishers)}
	}
	defer w.closeAll()

	conn := w.connect(ctx)
	if err := report(out, "CONNECTED", conn); err != nil {
		return err
	}
	if err := waitGo(ctx, ctl); err != nil {
		return err
	}
	done := w.run(ctx)
	return report(out, "DONE", done)
}

func report(out io.Writer, tag string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s %s\n", tag, b)
	return err
}

// waitGo blocks until ctl yields a "go" line.
func waitGo(ctx context.Context, ctl io.Reader) error {
	got := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(ctl)
		for sc.Scan() {
			if sc.Text() == "go" {
				got <- nil
				return
			}
		}
		got <- fmt.Errorf("load: control input closed before go")
	}()
	select {
	case err := <-got:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

type worker struct {
	cfg  Config
	p    proto.Protocol
	srcs []*net.TCPAddr

	members []client // connections counting deliveries (all of them for echo)
	pubs    []client // publishers (fanout, storm, poll-fanout)
	wg      sync.WaitGroup

	life context.Context // the whole run: polling sessions live this long
	hc   *http.Client    // poll-fanout: one shared keep-alive transport

	measuring  atomic.Bool
	deliveries atomic.Int64
	stamped    atomic.Int64 // deliveries that came stamped (Config.Recover)
	polls      atomic.Int64 // answered poll GETs, all sessions
	lat        hist.Histogram
	ring       ring
}

func (w *worker) closeAll() {
	for _, c := range w.members {
		if c != nil {
			c.close()
		}
	}
	for _, c := range w.pubs {
		if c != nil {
			c.close()
		}
	}
	w.wg.Wait()
	if w.hc != nil {
		w.hc.CloseIdleConnections()
	}
}

// deliver is the member connections' message handler.
func (w *worker) deliver(msg []byte) {
	if !w.measuring.Load() {
		// Still count toward publish windows so the publishers keep going.
		proto.Scan(msg, func(seq uint64, _ int64) { w.ring.add(seq) })
		return
	}
	now := time.Now().UnixNano()
	n := proto.Scan(msg, func(seq uint64, sent int64) {
		w.lat.Record(time.Duration(now - sent))
		w.ring.add(seq)
	})
	w.deliveries.Add(int64(n))
	if w.cfg.Recover && n > 0 {
		if st, ok := proto.ParseStamp(msg); ok && st.HasData {
			w.stamped.Add(int64(n))
		}
	}
}

// deliverEcho is deliver for the echo scenario: only the answer the
// protocol asks for counts (a Socket.IO ack, not an event emitted back).
func (w *worker) deliverEcho(msg []byte) {
	if w.p.EchoReply(msg) {
		w.deliver(msg)
	}
}

func (w *worker) connect(ctx context.Context) Connected {
	cfg := w.cfg
	w.members = make([]client, cfg.N)
	npub := 0
	if cfg.Scenario == Fanout || cfg.Scenario == Storm || cfg.Scenario == PollFanout || cfg.Scenario == SSEFanout || cfg.Scenario == Cluster {
		npub = cfg.Publishers
	}
	w.pubs = make([]client, npub)

	ctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()
	start := time.Now()
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	total := cfg.N + npub
	var dwg sync.WaitGroup
	for range min(cfg.Parallel, total) {
		dwg.Add(1)
		go func() {
			defer dwg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total || ctx.Err() != nil {
					return
				}
				var rooms []string
				var fn onMessage
				if i < cfg.N {
					rooms = cfg.memberRooms(cfg.Offset + i)
					fn = w.deliver
					if cfg.Scenario == Echo {
						fn = w.deliverEcho
					}
				}
				src := w.srcs[i%len(w.srcs)]
				c, err := w.open(ctx, cfg.nodeAddr(i), src, rooms, uint32(cfg.Offset+i), fn)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				if i < cfg.N {
					w.members[i] = c
				} else {
					w.pubs[i-cfg.N] = c
				}
			}
		}()
	}
	dwg.Wait()
	ready := 0
	for _, set := range [][]client{w.members, w.pubs} {
		for _, c := range set {
			if c == nil {
				continue
			}
			select {
			case <-c.readyChan():
				ready++
			case <-ctx.Done():
			}
		}
	}
	res := Connected{OK: total - int(failed.Load()), Failed: int(failed.Load()), Ready: ready, Seconds: time.Since(start).Seconds()}
	if e, ok := firstErr.Load().(string); ok {
		res.FirstErr = e
	} else if ready < res.OK {
		res.FirstErr = errNotReady.Error()
	}
	return res
}

func (w *worker) alive() int {
	n := 0
	for _, set := range [][]client{w.members, w.pubs} {
		for _, c := range set {
			if c != nil && !c.isClosed() {
				n++
			}
		}
	}
	return n
}

func (w *worker) run(ctx context.Context) Done {
	cfg := w.cfg
	var d Done
	if cfg.Scenario == Idle {
		d.Alive = w.alive()
		return d
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Warmup+cfg.Duration+cfg.StallAfter+5*time.Second)
	defer cancel()
	startMeasure := time.Now().Add(cfg.Warmup)
	endMeasure := startMeasure.Add(cfg.Duration)
	var sent, errs atomic.Int64
	var firstErr atomic.Value
	fail := func(err error) {
		errs.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	count := func(t time.Time) {
		if t.After(startMeasure) && t.Before(endMeasure) {
			sent.Add(1)
		}
	}
	var sendersWG sync.WaitGroup
	stalls := atomic.Int64{}
	switch cfg.Scenario {
	case Echo:
		for i, c := range w.members {
			if c == nil {
				continue
			}
			sendersWG.Add(1)
			go func() {
				defer sendersWG.Done()
				w.echoSender(ctx, c, i, endMeasure, count, fail)
			}()
		}
	case Fanout, Storm, SSEFanout, Cluster:
		need := w.roomNeeds()
		for i, c := range w.pubs {
			if c == nil {
				continue
			}
			sendersWG.Add(1)
			go func() {
				defer sendersWG.Done()
				stalls.Add(w.publisher(ctx, c, i, need, endMeasure, count, fail))
			}()
		}
	case PollFanout:
		for i, c := range w.pubs {
			if c == nil {
				continue
			}
			sendersWG.Add(1)
			go func() {
				defer sendersWG.Done()
				w.ratePublisher(ctx, c, i, endMeasure, count, fail)
			}()
		}
	}
	timer := time.NewTimer(time.Until(startMeasure))
	select {
	case <-timer.C:
		w.measuring.Store(true)
	case <-ctx.Done():
	}
	cpu0, polls0 := selfCPU(), w.polls.Load()
	timer.Reset(time.Until(endMeasure))
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	w.measuring.Store(false)
	d.CPUSeconds = (selfCPU() - cpu0).Seconds()
	d.Polls = w.polls.Load() - polls0
	sendersWG.Wait()
	d.Alive = w.alive()
	d.Sent = sent.Load()
	d.Deliveries = w.deliveries.Load()
	d.Stamped = w.stamped.Load()
	d.Seconds = cfg.Duration.Seconds()
	d.Stalls = stalls.Load()
	d.Errors = errs.Load()
	if e, ok := firstErr.Load().(string); ok {
		d.FirstErr = e
	}
	d.Latency = w.lat.Buckets()
	return d
}

// echoSender sends one echo message every 1/Rate seconds, starting at a
// phase spread by connection index so the load is smooth.
func (w *worker) echoSender(ctx context.Context, c client, i int, end time.Time, count func(time.Time), fail func(error)) {
	interval := time.Duration(float64(time.Second) / w.cfg.Rate)
	phase := time.Duration(int64(interval) * int64(i%1000) / 1000)
	t := time.NewTimer(phase)
	defer t.Stop()
	var payload, msg []byte
	seq := uint64(i) << 32
	var id uint64 // the request (ack) id: 1, 2, … on this connection
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if now.After(end) {
			return
		}
		seq++
		id++
		payload = proto.AppendPayload(payload[:0], seq, now.UnixNano(), w.cfg.Size)
		msg = w.p.AppendEcho(msg[:0], id, payload)
		if err := c.send(msg); err != nil {
			fail(err)
			return
		}
		count(now)
		t.Reset(interval)
	}
}

// roomNeeds returns, per room, how many deliveries make a message complete.
func (w *worker) roomNeeds() map[string]int32 {
	members := map[string]int{}
	for i, c := range w.members {
		if c == nil || c.isClosed() {
			continue
		}
		for _, r := range w.cfg.memberRooms(w.cfg.Offset + i) {
			members[r]++
		}
	}
	need := map[string]int32{}
	for r, n := range members {
		need[r] = int32(math.Ceil(float64(n) * w.cfg.Complete))
	}
	return need
}

// publisher publishes with at most Window messages in flight, a message
// leaving the window when enough members have it or after StallAfter. It
// returns the number of stalled messages.
func (w *worker) publisher(ctx context.Context, c client, idx int, need map[string]int32, end time.Time, count func(time.Time), fail func(error)) int64 {
	type flight struct {
		seq  uint64
		sent time.Time
	}
	var inflight []flight
	var stalls int64
	var payload, msg []byte
	wake := w.ring.subscribe(idx)
	defer w.ring.unsubscribe(idx)
	m := 0
	for ctx.Err() == nil {
		// Retire complete or stalled messages.
		for len(inflight) > 0 {
			f := inflight[0]
			if w.ring.complete(f.seq) {
				inflight = inflight[1:]
				continue
			}
			if time.Since(f.sent) > w.cfg.StallAfter {
				stalls++
				inflight = inflight[1:]
				continue
			}
			break
		}
		if len(inflight) >= w.cfg.Window {
			select {
			case <-wake:
			case <-time.After(10 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		now := time.Now()
		if now.After(end) {
			return stalls
		}
		room := w.cfg.Room
		if w.cfg.Scenario == Storm {
			room = RoomName((idx*13 + m) % w.cfg.Rooms)
		}
		m++
		n := need[room]
		if n == 0 {
			continue // a room without members: nothing to measure
		}
		seq := w.ring.start(idx, n)
		payload = proto.AppendPayload(payload[:0], seq, now.UnixNano(), w.cfg.Size)
		msg = w.p.AppendPublish(msg[:0], seq+1<<20, room, payload)
		if err := c.send(msg); err != nil {
			fail(err)
			return stalls
		}
		count(now)
		inflight = append(inflight, flight{seq, now})
	}
	return stalls
}

// open connects one client: a WebSocket with its reader goroutine, for
// poll-fanout an Engine.IO polling session with its GET loop, for an
// sse-fanout member an event stream with its reader. dialCtx bounds
// the connect; the connection itself lives until closeAll.
func (w *worker) open(dialCtx context.Context, addr string, src *net.TCPAddr, rooms []string, id uint32, fn onMessage) (client, error) {
	if w.cfg.Scenario == PollFanout {
		c, first, err := openPoll(dialCtx, w.life, w.hc, addr, w.p, rooms)
		if err != nil {
			return nil, err
		}
		c.polls = &w.polls
		w.wg.Go(func() { c.run(first, fn) })
		return c, nil
	}
	if w.cfg.Scenario == SSEFanout && rooms != nil { // a member; publishers are WebSockets
		c, err := openSSE(dialCtx, addr, src, rooms)
		if err != nil {
			return nil, err
		}
		w.wg.Go(func() { c.read(fn) })
		return c, nil
	}
	c, br, err := dial(dialCtx, addr, src, w.p, rooms, id)
	if err != nil {
		return nil, err
	}
	w.wg.Go(func() { c.read(br, fn) })
	return c, nil
}

// ratePublisher publishes Rate messages per second (open loop: on a fixed
// schedule, whatever the server does), one room after the other. A message
// carries its scheduled time, so latency includes any wait in the client's
// queue while an earlier POST is in flight; a message the bounded queue
// cannot take is counted as an error and not sent.
func (w *worker) ratePublisher(ctx context.Context, c client, idx int, end time.Time, count func(time.Time), fail func(error)) {
	interval := time.Duration(float64(time.Second) / w.cfg.Rate)
	next := time.Now().Add(time.Duration(int64(interval) * int64(idx) / int64(max(w.cfg.Publishers, 1))))
	t := time.NewTimer(time.Until(next))
	defer t.Stop()
	var payload, msg []byte
	seq := uint64(idx+1) << 40
	for m := idx; ; m++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if next.After(end) {
			return
		}
		seq++
		room := RoomName(m % w.cfg.Rooms)
		payload = proto.AppendPayload(payload[:0], seq, next.UnixNano(), w.cfg.Size)
		msg = w.p.AppendPublish(msg[:0], seq, room, payload)
		if err := c.send(msg); err != nil {
			fail(err)
			if errors.Is(err, errPollClosed) {
				return
			}
		} else {
			count(next)
		}
		next = next.Add(interval)
		t.Reset(time.Until(next))
	}
}
