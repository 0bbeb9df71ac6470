package redis

import (
	"errors"
	"math"
	"strconv"

	"github.com/allspark/allspark"
)

// A write to a room with history is published by the history script
// (history_publish.lua), which alone knows the offset it took, so it has an
// envelope kind of its own beside the shared ones (broker/internal/envelope):
//
//	'h' | offset (decimal ASCII) | ' ' | epoch | ' ' | publication
//
// where publication is allspark.MarshalPublication bytes without a
// position, as stored in the stream. Decimal and spaces because Lua builds
// it; the epoch is letters and digits, so the second space ends it.
const kindHistory = 'h'

// maxEpoch bounds a received epoch: ours are epochLen long, and a longer
// one means bytes no node wrote.
const maxEpoch = 64

// errBadStamp: a history envelope that no node of this version wrote.
var errBadStamp = errors.New("redis broker: malformed history envelope")

// appendStamped appends the envelope the history script publishes for p at
// pos: tests and benchmarks use it to build what Redis would deliver.
func appendStamped(dst []byte, pos allspark.Position, p *allspark.Publication) []byte {
	dst = append(dst, kindHistory)
	dst = strconv.AppendUint(dst, pos.Offset, 10)
	dst = append(dst, ' ')
	dst = append(dst, pos.Epoch...)
	dst = append(dst, ' ')
	return allspark.MarshalPublication(dst, p)
}

// decodeStamped reads a history envelope: the publication, for exactly
// one room, with its position set. Payload and Value alias b.
func decodeStamped(b []byte) (*allspark.Publication, error) {
	if len(b) < 1 || b[0] != kindHistory {
		return nil, errBadStamp
	}
	b = b[1:]
	// The offset: decimal digits without a leading zero, at most 2^64-1.
	var off uint64
	n := 0
	for ; n < len(b) && b[n] >= '0' && b[n] <= '9'; n++ {
		d := uint64(b[n] - '0')
		if off > (math.MaxUint64-d)/10 {
			return nil, errBadStamp
		}
		off = off*10 + d
	}
	if n == 0 || b[0] == '0' || n == len(b) || b[n] != ' ' {
		return nil, errBadStamp
	}
	b = b[n+1:]
	e := 0
	for e < len(b) && e <= maxEpoch && isEpochByte(b[e]) {
		e++
	}
	if e == 0 || e > maxEpoch || e == len(b) || b[e] != ' ' {
		return nil, errBadStamp
	}
	epoch := string(b[:e])
	p, err := allspark.UnmarshalPublication(b[e+1:])
	if err != nil || !p.Pos.IsZero() || p.All || len(p.Rooms) != 1 || len(p.Sparks) != 0 {
		return nil, errBadStamp
	}
	p.Pos = allspark.Position{Offset: off, Epoch: epoch}
	return p, nil
}

func isEpochByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
