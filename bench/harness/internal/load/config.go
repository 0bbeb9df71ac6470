package load

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/allspark/allspark/bench/harness/internal/proto"
)

// Scenarios.
const (
	Idle   = "idle"
	Echo   = "echo"
	Fanout = "fanout"
	Storm  = "storm"
	// PollFanout: members and publishers are Engine.IO v4 long-polling
	// sessions at /primus/; members sit in Rooms rooms (PerConn each),
	// publishers publish Rate messages per second each, round-robin over the
	// rooms, on a fixed schedule.
	PollFanout = "poll-fanout"
	// SSEFanout: members are event streams (GET /primus/sse?rooms=<Room>,
	// read like an EventSource), publishers WebSocket clients as in
	// fanout; the harness also reads the server's memory per member.
	SSEFanout = "sse-fanout"
	// Cluster is fanout across the nodes of a cluster: members of one room
	// spread evenly over Addrs (member i on node i mod len(Addrs)), and
	// publishers on every node (publisher j on node j mod len(Addrs)), so
	// most deliveries cross the broker between the nodes.
	Cluster = "cluster"
)

// The reconnect scenario is described in reconnect.go.

// ErrConfig reports a worker configuration that cannot run.
var ErrConfig = errors.New("load: invalid configuration")

// Config is one worker's job. Zero values get the defaults named on each field.
type Config struct {
	Server string // server kind (proto.ByName)
	Addr   string // 127.0.0.1:port
	// Addrs are the nodes of a cluster (cluster scenario); default [Addr].
	// Members and publishers are dealt over them in turn.
	Addrs    []string
	Scenario string
	N        int      // connections this worker opens (members, echo senders or idle)
	Offset   int      // global index of this worker's first connection (room assignment)
	Sources  []string // loopback source addresses; default 127.0.0.2
	Parallel int      // concurrent dialers; default 64

	ReadyTimeout time.Duration // for all N to be open and ready; default 60 s
	Warmup       time.Duration // before measuring; default 1 s
	Duration     time.Duration // measured; default 10 s
	Size         int           // payload bytes; default 100

	Rate float64 // echo: messages per second per connection; poll-fanout: per publisher; default 10

	Room       string // fanout: the room; default "bench"
	Rooms      int    // storm, poll-fanout: number of rooms; default 100 (storm), 10 (poll-fanout)
	PerConn    int    // storm, poll-fanout: rooms each connection joins; default 10 (storm), 1 (poll-fanout)
	Publishers int    // fanout, storm, poll-fanout, cluster: publisher connections; default 1 (fanout), 20 (storm), 10 (poll-fanout), one per node (cluster)
	Window     int    // messages in flight per publisher; default 4 (fanout), 2 (storm, cluster)
	// Complete is the share of a room's members that must have a message
	// before it stops counting against the window; default 0.99.
	Complete float64
	// StallAfter abandons a message that is not complete after this long
	// (default 2 s; 5 s in the cluster scenario, where a message crosses
	// the broker and three servers share the machine's cores);
	// it is counted as a stall.
	StallAfter time.Duration

	// Recover makes every connection of fanout ask for a session
	// (_recover=1, proto.PrimusSession): the history-fanout scenario, whose
	// members then get stamped messages from rooms with history, counted
	// as Done.Stamped. Allspark's Primus wire only.
	Recover bool
	// RetryEvery is how long a reconnecting member waits (±50 %) before
	// dialling again while its node is down (reconnect); default
	// DefaultRetryEvery.
	RetryEvery time.Duration
	// RecoverTimeout bounds the wait, after the harness's "listen" line,
	// for every member to be caught up (reconnect); default
	// DefaultRecoverTimeout.
	RecoverTimeout time.Duration
}

func (c *Config) setDefaults() {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	defd := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	if len(c.Addrs) == 0 && c.Addr != "" {
		c.Addrs = []string{c.Addr}
	}
	if len(c.Sources) == 0 {
		c.Sources = []string{"127.0.0.2"}
	}
	def(&c.Parallel, 64)
	defd(&c.ReadyTimeout, 60*time.Second)
	defd(&c.Warmup, time.Second)
	defd(&c.Duration, 10*time.Second)
	def(&c.Size, 100)
	if c.Rate == 0 {
		c.Rate = 10
	}
	if c.Room == "" {
		c.Room = "bench"
	}
	if c.Scenario == Reconnect {
		if c.Rate == 10 {
			c.Rate = 200 // the publisher's messages per second, all rooms
		}
		defd(&c.RetryEvery, DefaultRetryEvery)
		defd(&c.RecoverTimeout, DefaultRecoverTimeout)
	}
	if c.Scenario == PollFanout {
		def(&c.Rooms, 10)
		def(&c.PerConn, 1)
		def(&c.Publishers, 10)
	}
	def(&c.Rooms, 100)
	def(&c.PerConn, 10)
	if c.Scenario == Cluster {
		def(&c.Publishers, len(c.Addrs))
	}
	if c.Scenario == Cluster {
		// Several publishers share one room: 2 in flight each keeps the
		// total near fanout's 4, so the window measures throughput rather
		// than a queue the servers cannot drain before the stall limit.
		def(&c.Window, 2)
		defd(&c.StallAfter, 5*time.Second)
	}
	if c.Scenario == Storm {
		def(&c.Publishers, 20)
		def(&c.Window, 2)
	} else {
		def(&c.Publishers, 1)
		def(&c.Window, 4)
	}
	if c.Complete == 0 {
		c.Complete = 0.99
	}
	defd(&c.StallAfter, 2*time.Second)
}

// validate checks the configuration after defaults and resolves addresses.
func (c *Config) validate() ([]*net.TCPAddr, proto.Protocol, error) {
	p, err := proto.ByName(c.Server)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if len(c.Addrs) == 0 {
		return nil, nil, fmt.Errorf("%w: no server address", ErrConfig)
	}
	for _, a := range c.Addrs {
		host, _, err := net.SplitHostPort(a)
		if err != nil || host != "127.0.0.1" {
			return nil, nil, fmt.Errorf("%w: address %q is not 127.0.0.1:port", ErrConfig, a)
		}
	}
	if len(c.Addrs) > 1 && c.Scenario != Cluster && c.Scenario != Reconnect {
		return nil, nil, fmt.Errorf("%w: %d addresses: only the cluster scenario spreads over nodes", ErrConfig, len(c.Addrs))
	}
	if c.Scenario == Reconnect && (len(c.Addrs) != 2 || p.Name() != "allspark") {
		return nil, nil, fmt.Errorf("%w: reconnect needs allspark and two addresses (the node restarted, the publisher's node)", ErrConfig)
	}
	if c.Recover && (c.Scenario != Fanout || p.Name() != "allspark") {
		return nil, nil, fmt.Errorf("%w: sessions (Recover) are for allspark's fanout", ErrConfig)
	}
	switch c.Scenario {
	case Idle, Echo, Fanout, Storm, PollFanout, SSEFanout, Cluster, Reconnect:
	default:
		return nil, nil, fmt.Errorf("%w: unknown scenario %q", ErrConfig, c.Scenario)
	}
	if c.N <= 0 || c.N > 19000 {
		return nil, nil, fmt.Errorf("%w: N = %d (1..19000 per worker: 20,000 open files per process)", ErrConfig, c.N)
	}
	if (c.Scenario == Storm || c.Scenario == PollFanout) && (c.PerConn > c.Rooms || c.Rooms <= 0) {
		return nil, nil, fmt.Errorf("%w: %d rooms per connection out of %d", ErrConfig, c.PerConn, c.Rooms)
	}
	if !proto.ValidRoom(c.Room) {
		return nil, nil, fmt.Errorf("%w: room %q", ErrConfig, c.Room)
	}
	var srcs []*net.TCPAddr
	for _, s := range c.Sources {
		ip := net.ParseIP(s)
		if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
			return nil, nil, fmt.Errorf("%w: source %q is not an IPv4 loopback address", ErrConfig, s)
		}
		srcs = append(srcs, &net.TCPAddr{IP: ip})
	}
	return srcs, p, nil
}

// memberRooms returns the rooms connection i (global index) joins.
func (c *Config) memberRooms(i int) []string {
	switch c.Scenario {
	case Fanout, SSEFanout, Cluster:
		return []string{c.Room}
	case Storm, PollFanout:
		return stormRooms(i, c.Rooms, c.PerConn)
	}
	return nil
}

// stormRooms spreads connections evenly: connection i joins rooms i, i+s,
// i+2s, … (mod rooms) with stride s = rooms/perConn, so with N a multiple of
// rooms every room has N·perConn/rooms members.
func stormRooms(i, rooms, perConn int) []string {
	stride := max(rooms/perConn, 1)
	out := make([]string, 0, perConn)
	seen := map[int]bool{}
	for j := 0; len(out) < perConn; j++ {
		r := (i + j*stride) % rooms
		if seen[r] {
			r = (r + j) % rooms
			for seen[r] {
				r = (r + 1) % rooms
			}
		}
		seen[r] = true
		out = append(out, RoomName(r))
	}
	return out
}

// nodeAddr is the node connection i of this worker talks to: members
// (i < N) by their global index, publishers by theirs, each dealt over
// Addrs in turn.
func (c *Config) nodeAddr(i int) string {
	if i < c.N {
		return c.Addrs[(c.Offset+i)%len(c.Addrs)]
	}
	return c.Addrs[(i-c.N)%len(c.Addrs)]
}

// RoomName is the name of storm room r.
func RoomName(r int) string { return "r" + strconv.Itoa(r) }
