package nats

import (
	"errors"
	"math"
	"strconv"

	"github.com/allspark/allspark"
	natsgo "github.com/nats-io/nats.go"
)

// A history message is stored in its room's JetStream subject, and
// republished by the stream to the room's core subject, as
//
//	header Allspark-Pos: <offset> <epoch>
//	data   allspark.MarshalPublication bytes, without a position
//
// The position travels in a header rather than in the data so that the
// stored bytes are exactly what the publisher marshalled, and so that a
// node can tell a republished history message from an ordinary envelope on
// the same room subject by the header alone. Offset 0 marks a room's
// epoch without a message (written by a read of a room that had none, see
// history.go); such a marker is never delivered nor returned as an entry.
const posHeader = "Allspark-Pos"

// prevHeader holds the stream sequence of the room's message before this
// one (0 for none): the Nats-Expected-Last-Subject-Sequence it was written
// with, which JetStream checked. Reads of a few entries follow it back
// from the room's last message instead of creating a consumer.
const prevHeader = "Allspark-Prev"

// maxEpoch bounds a received epoch: ours are 8 letters and digits, and a
// longer one means bytes no node wrote.
const maxEpoch = 64

// errBadHistory: a history message no node of this version wrote.
var errBadHistory = errors.New("nats broker: malformed history message")

// formatPos renders a position for posHeader.
func formatPos(pos allspark.Position) string {
	b := make([]byte, 0, 21+len(pos.Epoch))
	b = strconv.AppendUint(b, pos.Offset, 10)
	b = append(b, ' ')
	b = append(b, pos.Epoch...)
	return string(b)
}

// parsePos reads posHeader's value: a decimal offset without a leading
// zero (or "0", a marker), one space, and an epoch of letters and digits.
func parsePos(v string) (allspark.Position, error) {
	var off uint64
	n := 0
	for ; n < len(v) && v[n] >= '0' && v[n] <= '9'; n++ {
		d := uint64(v[n] - '0')
		if off > (math.MaxUint64-d)/10 {
			return allspark.Position{}, errBadHistory
		}
		off = off*10 + d
	}
	if n == 0 || (v[0] == '0' && n > 1) || n == len(v) || v[n] != ' ' {
		return allspark.Position{}, errBadHistory
	}
	epoch := v[n+1:]
	if epoch == "" || len(epoch) > maxEpoch {
		return allspark.Position{}, errBadHistory
	}
	for i := 0; i < len(epoch); i++ {
		if c := epoch[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return allspark.Position{}, errBadHistory
		}
	}
	return allspark.Position{Offset: off, Epoch: epoch}, nil
}

// headerPos returns the position of a history message, and false when hdr
// has no posHeader (the message is an ordinary envelope).
func headerPos(hdr natsgo.Header) (allspark.Position, bool, error) {
	vals := hdr[posHeader]
	if len(vals) == 0 {
		return allspark.Position{}, false, nil
	}
	if len(vals) != 1 {
		return allspark.Position{}, true, errBadHistory
	}
	pos, err := parsePos(vals[0])
	return pos, true, err
}

// decodeHistory reads a history message at pos (offset > 0): the
// publication, for exactly one room, with its position set. Payload and
// Value alias data.
func decodeHistory(pos allspark.Position, data []byte) (*allspark.Publication, error) {
	if pos.Offset == 0 {
		return nil, errBadHistory
	}
	p, err := allspark.UnmarshalPublication(data)
	if err != nil || !p.Pos.IsZero() || p.All || len(p.Rooms) != 1 || len(p.Sparks) != 0 {
		return nil, errBadHistory
	}
	p.Pos = pos
	return p, nil
}
