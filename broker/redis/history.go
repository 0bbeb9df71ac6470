package redis

import (
	"context"
	"crypto/rand"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/allspark/allspark"
	"github.com/redis/rueidis"
)

// Room history on Redis (docs/recovery.md, "Redis"): each room with history
// has a STREAM of its last messages, entry ID <offset>-0, and a HASH with
// its position (epoch and top offset), keys.go. One Lua script per write
// takes the next offset, stores the entry and PUBLISHes it stamped on the
// room's channel (history_publish.lua), and one per read returns the
// position and the entries asked for (history_read.lua). Because Redis runs
// a script atomically and PUB/SUB keeps the order of PUBLISHes, every node
// receives a room's writes in offset order, and no offset is taken twice
// or skipped.

var (
	//go:embed history_publish.lua
	historyPublishLua string
	//go:embed history_read.lua
	historyReadLua string

	historyPublish = newScript(historyPublishLua)
	historyRead    = newScript(historyReadLua)
)

// MaxHistoryRead caps the entries one History call returns, whatever
// HistoryQuery.Limit and HistoryPolicy.Size say, so that a read is never an
// unbounded XRANGE: 100,000. A query without a Limit reads at most
// HistoryPolicy.Size entries (the stream holds no more).
const MaxHistoryRead = 100_000

// defaultMetaTTL is the meta's TTL when a policy names none (the server's
// default, allspark.HistoryRule).
const defaultMetaTTL = 30 * 24 * time.Hour

// epochLen is the length of the epochs this broker makes: 10 letters and
// digits (59 bits).
const epochLen = 10

// maxLuaOffset bounds the offsets handed to the scripts: Lua numbers are
// doubles, exact up to 2^53. No stream gets there (2^53 writes at a
// million a second is 285 years); a position beyond it, which only a
// client can make up, reads as "nothing after it".
const maxLuaOffset = 1 << 53

// errBadEntry: a stream entry or script reply that this broker did not
// write.
var errBadEntry = errors.New("redis broker: malformed history entry")

// PublishHistory implements allspark.HistoryBroker: p takes its room's
// next offset, is stored in the room's stream under pol and published on
// the room's channel, all in one script. Every node with members of the
// room receives it, this Broker's own nodes included, with p.Pos set, in
// offset order, through the same bounded queue as other publications. It
// returns the position and 0 deliveries: delivery is asynchronous.
//
// A write that fails (Redis down, timeout) returns an error and was
// either not applied or applied completely: the script is atomic.
func (b *Broker) PublishHistory(ctx context.Context, p *allspark.Publication, pol allspark.HistoryPolicy) (allspark.Position, int, error) {
	if b.isClosed() {
		return allspark.Position{}, 0, ErrClosed
	}
	if p.All || len(p.Rooms) != 1 || len(p.Sparks) != 0 {
		return allspark.Position{}, 0, allspark.ErrHistoryTarget
	}
	if !pol.On() {
		return allspark.Position{}, 0, allspark.ErrNoHistory
	}
	room := p.Rooms[0]
	if p.Pos.Offset != 0 {
		// The stream assigns positions; a stale one must not be stored.
		q := *p
		q.Pos = allspark.Position{}
		p = &q
	}
	// Every argument is a slice of one pooled buffer, handed to the
	// client without a copy.
	bp := getBuf()
	buf := (*bp)[:0]
	var at [8]int
	buf = b.keys.appendHistory(buf, room, keyStream)
	at[0] = len(buf)
	buf = b.keys.appendHistory(buf, room, keyMeta)
	at[1] = len(buf)
	buf = b.topics.appendName(buf, b.topics.room, room)
	at[2] = len(buf)
	buf = appendEpoch(buf)
	at[3] = len(buf)
	buf = strconv.AppendInt(buf, int64(pol.Size), 10)
	at[4] = len(buf)
	buf = appendMillis(buf, pol.TTL)
	at[5] = len(buf)
	buf = appendMillis(buf, metaTTL(pol))
	at[6] = len(buf)
	buf = allspark.MarshalPublication(buf, p)
	at[7] = len(buf)

	ctx, cancel := b.writeContext(ctx)
	res := historyPublish.exec(ctx, b.client,
		[]string{bs(buf, 0, at[0]), bs(buf, at[0], at[1])},
		bs(buf, at[1], at[2]), bs(buf, at[2], at[3]), bs(buf, at[3], at[4]),
		bs(buf, at[4], at[5]), bs(buf, at[5], at[6]), bs(buf, at[6], at[7]))
	cancel()
	*bp = buf
	pos, err := parsePublished(res)
	if err != nil {
		// On a timeout the command may still sit in the client's
		// pipeline, reading the buffer: leave it to the GC.
		b.errs.Add(1)
		return allspark.Position{}, 0, fmt.Errorf("redis broker: publish history: %w", err)
	}
	putBuf(bp)
	b.published.Add(1)
	return pos, 0, nil
}

// parsePublished reads the publish script's {offset, epoch}.
func parsePublished(res rueidis.RedisResult) (allspark.Position, error) {
	arr, err := res.ToArray()
	if err != nil {
		return allspark.Position{}, err
	}
	if len(arr) != 2 {
		return allspark.Position{}, errBadEntry
	}
	off, err1 := arr[0].AsInt64()
	epoch, err2 := arr[1].ToString()
	if err1 != nil || err2 != nil || off <= 0 || epoch == "" {
		return allspark.Position{}, errBadEntry
	}
	return allspark.Position{Offset: uint64(off), Epoch: epoch}, nil
}

// History implements allspark.HistoryBroker: the room's position and its
// entries after q.After, oldest first, at most q.Limit (or pol.Size when
// q.Limit is 0) and never more than MaxHistoryRead. Entries older than
// pol.TTL are dropped by the read (and removed from the stream), so a
// message lives pol.TTL after it was written however busy its room is;
// the whole stream also expires pol.TTL after its last write. A room
// without a position (never written, its meta expired or evicted) gets a
// fresh epoch and Top.Offset 0, and keeps them for the next reads. The
// meta's TTL is refreshed.
func (b *Broker) History(ctx context.Context, room string, q allspark.HistoryQuery, pol allspark.HistoryPolicy) (allspark.HistoryResult, error) {
	if b.isClosed() {
		return allspark.HistoryResult{}, ErrClosed
	}
	if !pol.On() {
		return allspark.HistoryResult{}, allspark.ErrNoHistory
	}
	count := historyCount(q, pol)
	first := q.After + 1
	if q.After >= maxLuaOffset {
		count, first = 0, maxLuaOffset
	}
	bp := getBuf()
	buf := (*bp)[:0]
	var at [7]int
	buf = b.keys.appendHistory(buf, room, keyStream)
	at[0] = len(buf)
	buf = b.keys.appendHistory(buf, room, keyMeta)
	at[1] = len(buf)
	buf = appendEpoch(buf)
	at[2] = len(buf)
	buf = appendMillis(buf, metaTTL(pol))
	at[3] = len(buf)
	buf = appendMillis(buf, pol.TTL)
	at[4] = len(buf)
	buf = strconv.AppendUint(buf, first, 10)
	at[5] = len(buf)
	buf = strconv.AppendInt(buf, int64(count), 10)
	at[6] = len(buf)

	ctx, cancel := b.readContext(ctx)
	res := historyRead.exec(ctx, b.client,
		[]string{bs(buf, 0, at[0]), bs(buf, at[0], at[1])},
		bs(buf, at[1], at[2]), bs(buf, at[2], at[3]), bs(buf, at[3], at[4]),
		bs(buf, at[4], at[5]), bs(buf, at[5], at[6]))
	cancel()
	*bp = buf
	hr, err := parseHistory(res, q.After)
	if err != nil {
		b.errs.Add(1)
		return allspark.HistoryResult{}, fmt.Errorf("redis broker: history of %q: %w", room, err)
	}
	putBuf(bp)
	return hr, nil
}

// historyCount is how many entries a read asks for: q.Limit, or the
// policy's size for "all", capped at MaxHistoryRead.
func historyCount(q allspark.HistoryQuery, pol allspark.HistoryPolicy) int {
	n := q.Limit
	if n <= 0 {
		n = pol.Size
	}
	return max(0, min(n, MaxHistoryRead))
}

// parseHistory reads the read script's {epoch, top, XRANGE reply}. Entries
// must follow after, in order, up to top: anything else is not ours.
func parseHistory(res rueidis.RedisResult, after uint64) (allspark.HistoryResult, error) {
	arr, err := res.ToArray()
	if err != nil {
		return allspark.HistoryResult{}, err
	}
	if len(arr) != 3 {
		return allspark.HistoryResult{}, errBadEntry
	}
	epoch, err1 := arr[0].ToString()
	top, err2 := arr[1].AsInt64()
	entries, err3 := arr[2].ToArray()
	if err1 != nil || err2 != nil || err3 != nil || epoch == "" || top < 0 {
		return allspark.HistoryResult{}, errBadEntry
	}
	hr := allspark.HistoryResult{Top: allspark.Position{Offset: uint64(top), Epoch: epoch}}
	if len(entries) == 0 {
		return hr, nil
	}
	hr.Entries = make([]allspark.HistoryEntry, 0, len(entries))
	last := after
	for i := range entries {
		e, err := parseEntry(&entries[i])
		if err != nil || e.Pos.Offset <= last || e.Pos.Offset > uint64(top) {
			return allspark.HistoryResult{}, errBadEntry
		}
		last = e.Pos.Offset
		e.Pos.Epoch = epoch
		hr.Entries = append(hr.Entries, e)
	}
	return hr, nil
}

// parseEntry reads one XRANGE entry: [<offset>-0, [t, <ms>, p, <publication>]].
func parseEntry(m *rueidis.RedisMessage) (allspark.HistoryEntry, error) {
	kv, err := m.ToArray()
	if err != nil || len(kv) != 2 {
		return allspark.HistoryEntry{}, errBadEntry
	}
	id, err1 := kv[0].ToString()
	fields, err2 := kv[1].ToArray()
	if err1 != nil || err2 != nil {
		return allspark.HistoryEntry{}, errBadEntry
	}
	digits, ok := strings.CutSuffix(id, "-0")
	if !ok {
		return allspark.HistoryEntry{}, errBadEntry
	}
	off, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || off == 0 {
		return allspark.HistoryEntry{}, errBadEntry
	}
	for i := 0; i+1 < len(fields); i += 2 {
		if name, _ := fields[i].ToString(); name != "p" {
			continue
		}
		body, err := fields[i+1].AsBytes()
		if err != nil {
			return allspark.HistoryEntry{}, errBadEntry
		}
		p, err := allspark.UnmarshalPublication(body)
		if err != nil {
			return allspark.HistoryEntry{}, errBadEntry
		}
		return allspark.HistoryEntry{
			Pos:     allspark.Position{Offset: off},
			Payload: p.Payload,
			Binary:  p.Binary,
			Value:   p.Value,
			Except:  p.Except,
		}, nil
	}
	return allspark.HistoryEntry{}, errBadEntry
}

// metaTTL is the policy's meta TTL, or the default.
func metaTTL(pol allspark.HistoryPolicy) time.Duration {
	if pol.MetaTTL <= 0 {
		return defaultMetaTTL
	}
	return pol.MetaTTL
}

// appendMillis appends d in whole milliseconds, rounded up and at least 1
// (PEXPIRE of 0 would delete the key at once).
func appendMillis(dst []byte, d time.Duration) []byte {
	ms := max(1, (d+time.Millisecond-1)/time.Millisecond)
	return strconv.AppendInt(dst, int64(ms), 10)
}

// appendEpoch appends a fresh random epoch: the scripts use it only when
// the room has no position, so a stream recreated gets one that none of
// its clients can have seen.
func appendEpoch(dst []byte) []byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var r [epochLen]byte
	_, _ = rand.Read(r[:])
	for _, c := range r {
		dst = append(dst, alphabet[int(c)%len(alphabet)])
	}
	return dst
}

// bs is buf[a:z] as a string without a copy, for arguments the client
// writes out before the buffer is reused.
func bs(buf []byte, a, z int) string { return rueidis.BinaryString(buf[a:z]) }

var _ allspark.HistoryBroker = (*Broker)(nil)
