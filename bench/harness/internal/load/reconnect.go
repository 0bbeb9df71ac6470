package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/hist"
	"github.com/allspark/allspark/bench/harness/internal/proto"
	"github.com/allspark/allspark/bench/harness/internal/wsframe"
)

// The reconnect scenario (issue 16): N members on the node at Addrs[0],
// each in one of Rooms rooms with history, each with a session (_recover=1);
// one publisher on the node at Addrs[1] (the same broker, never restarted)
// publishing Rate messages per second round-robin over the rooms, on a fixed
// schedule. The harness restarts the first node; every member whose
// connection ends reconnects at once with its _session and _since, retrying
// every RetryEvery (±50 %) while nothing listens. Once the harness says
// "listen <unix-nanos>" (when the new process printed READY), the worker
// waits until every member is caught up or RecoverTimeout passes, reports
// CAUGHTUP, waits for "stop" (the harness samples the server and broker in
// between), closes everything and reports DONE.
//
// A member is caught up when its session envelope said recovered: true and
// it then received a message published after that envelope arrived: since a
// room's messages come in offset order (the replay first, then live), every
// message it missed has then been delivered; the offsets are checked to
// follow one another with no gap and no duplicate across the cut. Its
// catch-up time is the arrival of the last message published before the
// envelope (the end of its replay), or the envelope itself when there was
// none. A member told recovered: false is done at its envelope, counted by
// reason.

// Reconnect is the scenario's name.
const Reconnect = "reconnect"

// Defaults of the reconnect scenario.
const (
	DefaultRetryEvery     = 100 * time.Millisecond
	DefaultRecoverTimeout = 60 * time.Second
)

// ReconnectReport is what one worker saw of the restart.
type ReconnectReport struct {
	Members    int    `json:"members"`
	MinBefore  int64  `json:"min_before"`          // fewest messages a member had received before its cut
	Cut        int    `json:"cut"`                 // members whose connection ended
	Back       int    `json:"back"`                // members that got a session envelope after the cut
	Recovered  int    `json:"recovered"`           // of those, recovered: true
	Restored   int    `json:"restored"`            // restored: true (the same spark)
	CaughtUp   int    `json:"caught_up"`           // recovered and every missed message delivered
	Gaps       int64  `json:"gaps"`                // a message's offset skipped one (recovered members)
	Duplicates int64  `json:"duplicates"`          // an offset at or below one already received
	DupsFirst  int64  `json:"dups_first"`          // of those, on the first connection (before any cut)
	FirstDup   string `json:"first_dup,omitempty"` // the first duplicate seen, described
	Replayed   int64  `json:"replayed"`            // messages published before the member's envelope, received after it
	Dials      int64  `json:"dials"`               // reconnect attempts, successful ones included
	DialErrors int64  `json:"dial_errors"`         // refused, 503 while draining, timeouts
	FirstCutNS int64  `json:"first_cut_ns"`        // Unix ns of the first connection that ended
	LastBackNS int64  `json:"last_back_ns"`        // Unix ns of the last session envelope after the cut
	LastDoneNS int64  `json:"last_done_ns"`        // Unix ns of the last member done (caught up or told not recovered)
	Published  int64  `json:"published"`           // messages the publisher sent from go to the end
	PubErrors  int64  `json:"pub_errors"`
	ListenNS   int64  `json:"listen_ns"` // the harness's "listen" time, echoed
	TimedOut   bool   `json:"timed_out"` // RecoverTimeout passed before every member was done
	// NotRecovered counts members told recovered: false, by reason;
	// "never_back" counts members without an envelope by the end, and
	// "not_caught_up" recovered ones still waiting for a message.
	NotRecovered map[string]int `json:"not_recovered,omitempty"`
	// BackLatency and DoneLatency are, per member, envelope arrival and
	// catch-up time after the listen time (hist.Buckets; before it counts
	// as 0).
	BackLatency [][2]uint64 `json:"back_latency,omitempty"`
	DoneLatency [][2]uint64 `json:"done_latency,omitempty"`
	FirstErr    string      `json:"first_err,omitempty"`
}

// CaughtUp is the reconnect worker's report once every member is done (or
// RecoverTimeout passed); the worker then waits for "stop" before closing
// anything.
type CaughtUp struct {
	Done     int  `json:"done"`
	TimedOut bool `json:"timed_out"`
}

// member is one reconnecting client. Its fields are its goroutine's until
// the worker has stopped every member and waited for them.
type member struct {
	idx   int
	room  string
	src   *net.TCPAddr
	token string
	pos   proto.Position // last position received in room
	has   bool           // pos is set (an announcement or a message arrived)

	mu sync.Mutex
	nc net.Conn

	before    int64 // messages received before the cut
	cut       bool
	back      bool
	envelope  proto.SessionInfo
	envNS     int64
	lastOldNS int64 // arrival of the last message published before envNS
	doneNS    int64
	done      bool
	gaps      int64
	dups      int64
	replayed  int64
	dials     int64
	dialErrs  int64
	firstErr  string
	// sinceSent and reconnects: the offset of the last _since sent, and
	// how many times the member reconnected (debugging duplicates)
	sinceSent  uint64
	reconnects int
	dupsFirst  int64  // of dups, on the first connection
	firstDup   string // the first duplicate, described
}

// reconnectRun is the worker's state for the reconnect scenario.
type reconnectRun struct {
	cfg      Config
	srcs     []*net.TCPAddr
	p        proto.Protocol // Primus, for heartbeats and the publisher
	members  []*member
	wg       sync.WaitGroup
	stop     atomic.Bool
	done     atomic.Int64 // members done after the cut
	cuts     atomic.Int64
	firstCut atomic.Int64
}

func runReconnect(ctx context.Context, cfg Config, srcs []*net.TCPAddr, ctl io.Reader, out io.Writer) error {
	r := &reconnectRun{cfg: cfg, srcs: srcs, p: proto.Primus{Kind: cfg.Server}}
	defer r.stopAll()
	conn := r.connect(ctx)
	if err := report(out, "CONNECTED", conn); err != nil {
		return err
	}
	lines := make(chan string, 4)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(ctl)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-quit: // nobody reads any more; ctl's end ends the scan
			}
		}
	}()
	waitLine := func(prefix string) (string, error) {
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					return "", errors.New("load: control input closed before " + prefix)
				}
				if rest, found := strings.CutPrefix(l, prefix); found {
					return strings.TrimSpace(rest), nil
				}
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
	}
	if _, err := waitLine("go"); err != nil {
		return err
	}
	pubCtx, stopPub := context.WithCancel(ctx)
	var published, pubErrs atomic.Int64
	var pubErr atomic.Value
	var pwg sync.WaitGroup
	pwg.Go(func() { r.publish(pubCtx, &published, &pubErrs, &pubErr) })
	defer func() { stopPub(); pwg.Wait() }()

	arg, err := waitLine("listen")
	if err != nil {
		return err
	}
	listenNS, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return errors.New("load: listen line without a time")
	}
	deadline := time.Now().Add(cfg.RecoverTimeout)
	timedOut := false
	for int(r.done.Load()) < len(r.members) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			timedOut = true
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The harness samples the server and the broker now, before the
	// members' connections close (which is work for both), then says stop.
	if err := report(out, "CAUGHTUP", CaughtUp{Done: int(r.done.Load()), TimedOut: timedOut}); err != nil {
		return err
	}
	stopWait, cancelWait := context.WithTimeout(ctx, 30*time.Second)
	defer cancelWait()
	ctx = stopWait
	if _, err := waitLine("stop"); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	stopPub()
	pwg.Wait()
	r.stopAll()
	rep := r.report(listenNS)
	rep.TimedOut = timedOut
	rep.Published, rep.PubErrors = published.Load(), pubErrs.Load()
	if e, ok := pubErr.Load().(string); ok && rep.FirstErr == "" {
		rep.FirstErr = e
	}
	return report(out, "DONE", Done{Alive: rep.Back, Reconnect: &rep})
}

// connect opens every member with _recover=1 and waits for its session
// envelope.
func (r *reconnectRun) connect(ctx context.Context) Connected {
	cfg := r.cfg
	ctx, cancel := context.WithTimeout(ctx, cfg.ReadyTimeout)
	defer cancel()
	start := time.Now()
	r.members = make([]*member, cfg.N)
	for i := range r.members {
		r.members[i] = &member{idx: i, room: RoomName((cfg.Offset + i) % cfg.Rooms), src: r.srcs[i%len(r.srcs)]}
	}
	var next, failed atomic.Int64
	var firstErr atomic.Value
	ready := make(chan struct{}, cfg.N)
	var dwg sync.WaitGroup
	for range min(cfg.Parallel, cfg.N) {
		dwg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= cfg.N || ctx.Err() != nil {
					return
				}
				m := r.members[i]
				nc, br, err := r.dial(ctx, m, proto.RecoverPath([]string{m.room}))
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				r.wg.Go(func() { r.live(m, nc, br, ready) })
			}
		})
	}
	dwg.Wait()
	n := 0
	for n < cfg.N-int(failed.Load()) {
		select {
		case <-ready:
			n++
			continue
		case <-ctx.Done():
		}
		break
	}
	res := Connected{OK: cfg.N - int(failed.Load()), Failed: int(failed.Load()), Ready: n, Seconds: time.Since(start).Seconds()}
	if e, ok := firstErr.Load().(string); ok {
		res.FirstErr = e
	} else if n < res.OK {
		res.FirstErr = errNotReady.Error()
	}
	return res
}

func (r *reconnectRun) dial(ctx context.Context, m *member, path string) (net.Conn, *bufio.Reader, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nc, br, err := wsframe.Dial(dctx, wsframe.DialOptions{Addr: r.cfg.Addrs[0], Path: path, Local: m.src})
	if err != nil {
		return nil, nil, err
	}
	m.mu.Lock()
	m.nc = nc
	m.mu.Unlock()
	if r.stop.Load() {
		nc.Close()
		return nil, nil, errStopped
	}
	return nc, br, nil
}

var errStopped = errors.New("load: stopped")

// live is a member's goroutine: read the first connection, then reconnect
// and read again whenever the connection ends, until the worker stops.
func (r *reconnectRun) live(m *member, nc net.Conn, br *bufio.Reader, ready chan<- struct{}) {
	first := true
	for {
		r.read(m, nc, br, first, ready)
		nc.Close()
		if r.stop.Load() {
			return
		}
		if first {
			first = false
			m.cut = true
			now := time.Now().UnixNano()
			r.cuts.Add(1)
			r.firstCut.CompareAndSwap(0, now)
		} else if m.back && !m.done {
			// Cut again before it caught up: it tries again, still owed.
			m.back = false
		}
		var err error
		nc, br, err = r.redial(m)
		if err != nil {
			return
		}
	}
}

// redial reconnects m with its session and position, retrying while the
// node is down, until it succeeds or the worker stops.
func (r *reconnectRun) redial(m *member) (net.Conn, *bufio.Reader, error) {
	var since map[string]proto.Position
	if m.has {
		since = map[string]proto.Position{m.room: m.pos}
	}
	path := proto.ResumePath([]string{m.room}, m.token, since)
	m.sinceSent = m.pos.Offset
	m.reconnects++
	for !r.stop.Load() {
		m.dials++
		nc, br, err := r.dial(context.Background(), m, path)
		if err == nil {
			return nc, br, nil
		}
		if errors.Is(err, errStopped) {
			return nil, nil, err
		}
		m.dialErrs++
		if m.firstErr == "" {
			m.firstErr = err.Error()
		}
		every := r.cfg.RetryEvery
		time.Sleep(every/2 + rand.N(every))
	}
	return nil, nil, errStopped
}

// read handles one connection's messages until it ends.
func (r *reconnectRun) read(m *member, nc net.Conn, br *bufio.Reader, first bool, ready chan<- struct{}) {
	wmu := sync.Mutex{}
	mask := [4]byte{byte(m.idx), byte(m.idx >> 8), byte(m.idx >> 16), 0x3c}
	var wbuf []byte
	send := func(op byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		wbuf = wsframe.AppendFrame(wbuf[:0], op, p, &mask)
		_, err := nc.Write(wbuf)
		return err
	}
	rd := &wsframe.Reader{R: br, Limit: 1 << 20, OnControl: func(op byte, p []byte) error {
		if op == wsframe.OpPing {
			return send(wsframe.OpPong, p)
		}
		return nil
	}}
	gotEnvelope := false
	for {
		_, msg, err := rd.ReadMessage()
		if err != nil {
			return
		}
		if hb := r.p.Heartbeat(msg); hb != nil {
			if send(wsframe.OpText, hb) != nil {
				return
			}
			continue
		}
		now := time.Now().UnixNano()
		if !gotEnvelope {
			s, err := proto.ParseSession(msg)
			if err != nil {
				continue
			}
			gotEnvelope = true
			m.token = s.Token
			if first {
				ready <- struct{}{}
				continue
			}
			m.back, m.envelope, m.envNS = true, s, now
			if !s.Recovered {
				r.finish(m, now)
			}
			continue
		}
		st, ok := proto.ParseStamp(msg)
		if !ok || st.Room != m.room {
			continue
		}
		if m.has && st.Pos.Epoch == m.pos.Epoch {
			switch {
			case st.Pos.Offset <= m.pos.Offset && st.HasData:
				m.dups++
				if first {
					m.dupsFirst++
				}
				if m.firstDup == "" {
					m.firstDup = fmt.Sprintf("%s:%d_after_%d_first=%v_since=%d_reconnects=%d_ms_after_envelope=%d", m.room, st.Pos.Offset, m.pos.Offset, first, m.sinceSent, m.reconnects, (now-m.envNS)/1e6)
				}
				continue
			case st.Pos.Offset > m.pos.Offset+1 && m.envelope.Recovered:
				m.gaps++
			}
		}
		m.pos, m.has = st.Pos, true
		if !st.HasData {
			continue
		}
		if first {
			m.before++
			continue
		}
		if !m.envelope.Recovered || m.done {
			continue
		}
		var sent int64
		proto.Scan(msg, func(_ uint64, nanos int64) { sent = nanos })
		if sent < m.envNS {
			m.replayed++
			m.lastOldNS = now
			continue
		}
		r.finish(m, max(m.envNS, m.lastOldNS))
	}
}

// finish marks m done at t (Unix ns).
func (r *reconnectRun) finish(m *member, t int64) {
	if m.done {
		return
	}
	m.done, m.doneNS = true, t
	r.done.Add(1)
}

// publish sends Rate messages per second over the rooms, on a fixed
// schedule, to the node at Addrs[1]; a publisher that loses its connection
// dials again.
func (r *reconnectRun) publish(ctx context.Context, published, errs *atomic.Int64, firstErr *atomic.Value) {
	interval := time.Duration(float64(time.Second) / r.cfg.Rate)
	var c *conn
	var rwg sync.WaitGroup // the publisher's readers (heartbeats)
	defer rwg.Wait()
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	next := time.Now()
	var payload, msg []byte
	seq := uint64(r.cfg.Offset+1) << 40
	t := time.NewTimer(0)
	defer t.Stop()
	for m := 0; ; m++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if c == nil || c.isClosed() {
			var br *bufio.Reader
			var err error
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			c, br, err = dial(dctx, r.cfg.Addrs[1], r.srcs[0], r.p, nil, 0xffffff)
			cancel()
			if err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				c = nil
				next = next.Add(interval)
				t.Reset(time.Until(next))
				continue
			}
			rwg.Go(func() { c.read(br, nil) })
		}
		seq++
		payload = proto.AppendPayload(payload[:0], seq, next.UnixNano(), r.cfg.Size)
		msg = r.p.AppendPublish(msg[:0], seq, RoomName(m%r.cfg.Rooms), payload)
		if err := c.send(msg); err != nil {
			errs.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
		} else {
			published.Add(1)
		}
		next = next.Add(interval)
		t.Reset(time.Until(next))
	}
}

// stopAll ends every member's connection and waits for their goroutines.
func (r *reconnectRun) stopAll() {
	r.stop.Store(true)
	for _, m := range r.members {
		m.mu.Lock()
		if m.nc != nil {
			m.nc.Close()
		}
		m.mu.Unlock()
	}
	r.wg.Wait()
}

// report sums the members after stopAll.
func (r *reconnectRun) report(listenNS int64) ReconnectReport {
	rep := ReconnectReport{Members: len(r.members), ListenNS: listenNS, FirstCutNS: r.firstCut.Load(), NotRecovered: map[string]int{}}
	var back, done hist.Histogram
	rep.MinBefore = -1
	since := func(t int64) time.Duration { return time.Duration(max(t-listenNS, 0)) }
	for _, m := range r.members {
		if rep.MinBefore < 0 || m.before < rep.MinBefore {
			rep.MinBefore = m.before
		}
		rep.Dials += m.dials
		rep.DialErrors += m.dialErrs
		rep.Gaps += m.gaps
		rep.Duplicates += m.dups
		rep.DupsFirst += m.dupsFirst
		if rep.FirstDup == "" {
			rep.FirstDup = m.firstDup
		}
		rep.Replayed += m.replayed
		if rep.FirstErr == "" {
			rep.FirstErr = m.firstErr
		}
		if !m.cut {
			continue
		}
		rep.Cut++
		if !m.back {
			rep.NotRecovered["never_back"]++
			continue
		}
		rep.Back++
		rep.LastBackNS = max(rep.LastBackNS, m.envNS)
		back.Record(since(m.envNS))
		if m.envelope.Restored {
			rep.Restored++
		}
		if !m.envelope.Recovered {
			reason := m.envelope.Reason
			if reason == "" {
				reason = "none"
			}
			rep.NotRecovered[reason]++
		} else {
			rep.Recovered++
			if !m.done {
				rep.NotRecovered["not_caught_up"]++
				continue
			}
			rep.CaughtUp++
		}
		if m.done {
			rep.LastDoneNS = max(rep.LastDoneNS, m.doneNS)
			done.Record(since(m.doneNS))
		}
	}
	rep.BackLatency, rep.DoneLatency = back.Buckets(), done.Buckets()
	return rep
}
