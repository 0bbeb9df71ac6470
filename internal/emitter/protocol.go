package emitter

import (
	"bytes"
	"strconv"

	"github.com/allspark/allspark/internal/events"
	"github.com/allspark/allspark/internal/transport"
)

// Slot is the primus-emitter protocol's index in transport.Shared.
const Slot = 3

// Framing is how the server encodes messages, which the protocol needs to
// read them back and write packets in the same encoding.
type Framing struct {
	// JSON: the server's parser is the JSON one, so event and ack
	// envelopes are framed from their bytes without decoding (the
	// arguments are copied as encoded).
	JSON bool
	// Decode and Encode are the server's parser, for any other parser
	// (MessagePack) and for envelopes the fast path does not recognise.
	Decode func(payload []byte, binary bool) (any, error)
	Encode func(v any) (payload []byte, binary bool, err error)
}

// NewProtocol returns the primus-emitter protocol. Its frame of a message
// is a packet when the message is an event envelope, an ack, an ack error
// or an error report, and the canonical encoding itself otherwise (plain
// data and the Primus control strings: the dialect lives inside Primus
// data, so pings, id answers and the server close are unchanged).
func NewProtocol(f Framing) *transport.Protocol {
	return &transport.Protocol{
		Name:  "primus-emitter",
		Slot:  Slot,
		Frame: func(m *transport.Message) ([]byte, bool) { return frame(f, m) },
	}
}

// envelopePrefix starts the JSON encoding of every envelope the server
// builds (internal/events: the version key is the first field).
var envelopePrefix = []byte(`{"` + events.Key + `":1,`)

func frame(f Framing, m *transport.Message) ([]byte, bool) {
	if m.Control != transport.Data {
		return m.Payload, m.Binary
	}
	if f.JSON {
		if m.Binary || !bytes.HasPrefix(m.Payload, envelopePrefix) {
			return m.Payload, m.Binary // plain data, raw binary
		}
		if out, ok := frameJSON(m.Payload); ok {
			return out, false
		}
	}
	return frameValue(f, m)
}

// frameValue decodes the canonical encoding and, when it is an envelope,
// encodes its packet with the server's parser.
func frameValue(f Framing, m *transport.Message) ([]byte, bool) {
	v, err := f.Decode(m.Payload, m.Binary)
	if err != nil {
		return m.Payload, m.Binary
	}
	env, ok, err := events.Parse(v)
	if !ok || err != nil {
		return m.Payload, m.Binary
	}
	out, binary, err := f.Encode(FromEnvelope(env))
	if err != nil {
		return m.Payload, m.Binary
	}
	return out, binary
}

// The fixed parts of the server's JSON encodings of an event envelope
// (events.EventMsg: version, event, args, id) and of an ack
// (events.AckMsg: version, ack, args).
var (
	eventPrefix = []byte(`{"` + events.Key + `":1,"event":"`)
	ackPrefix   = []byte(`{"` + events.Key + `":1,"ack":`)
	argsKey     = []byte(`,"args":[`)
	idKey       = []byte(`],"id":`)
)

// maxIDDigits is the length of the largest request id, 2^53−1.
const maxIDDigits = 16

// frameJSON frames an event or an ack in the layout the server's JSON
// encoding always has by slicing it: the name and the arguments are
// copied as they are. Anything else (ack errors, reports, another node's
// or a hand-written encoding) reports false and takes the value path.
func frameJSON(payload []byte) ([]byte, bool) {
	if bytes.HasPrefix(payload, eventPrefix) {
		return frameEvent(payload)
	}
	if bytes.HasPrefix(payload, ackPrefix) {
		return frameAck(payload)
	}
	return nil, false
}

// frameEvent slices `{"allspark":1,"event":"<name>","args":[<args>]}`,
// with an optional `,"id":<n>` before the brace, into
// `{"type":0,"data":["<name>",<args>],"id":<n>}`.
func frameEvent(payload []byte) ([]byte, bool) {
	rest := payload[len(eventPrefix)-1:] // from the name's opening quote
	end := 1
	for ; end < len(rest); end++ {
		if rest[end] == '\\' {
			end++
			continue
		}
		if rest[end] == '"' {
			break
		}
	}
	if end >= len(rest) {
		return nil, false
	}
	name := rest[:end+1]
	rest = rest[end+1:]
	if !bytes.HasPrefix(rest, argsKey) {
		return nil, false
	}
	args, id, ok := argsAndID(rest[len(argsKey):])
	if !ok {
		return nil, false
	}
	out := make([]byte, 0, len(name)+len(args)+len(`{"type":0,"data":[,],"id":}`)+maxIDDigits)
	out = append(out, `{"type":0,"data":[`...)
	out = append(out, name...)
	if len(args) > 0 {
		out = append(append(out, ','), args...)
	}
	out = append(out, ']')
	if id > 0 {
		out = strconv.AppendUint(append(out, `,"id":`...), id, 10)
	}
	return append(out, '}'), true
}

// argsAndID splits what follows `"args":[` in an event envelope: the
// arguments up to `]}`, or up to `],"id":<digits>}`.
func argsAndID(rest []byte) (args []byte, id uint64, ok bool) {
	if bytes.HasSuffix(rest, []byte("]}")) {
		return rest[:len(rest)-2], 0, true
	}
	i := bytes.LastIndex(rest, idKey)
	if i < 0 || rest[len(rest)-1] != '}' {
		return nil, 0, false
	}
	id, ok = parseID(rest[i+len(idKey) : len(rest)-1])
	return rest[:i], id, ok
}

// frameAck slices `{"allspark":1,"ack":<n>,"args":[<args>]}` into
// `{"type":1,"data":[<args>],"id":<n>}`.
func frameAck(payload []byte) ([]byte, bool) {
	rest := payload[len(ackPrefix):]
	comma := bytes.IndexByte(rest, ',')
	if comma < 0 {
		return nil, false
	}
	id, ok := parseID(rest[:comma])
	rest = rest[comma:]
	if !ok || !bytes.HasPrefix(rest, argsKey) || !bytes.HasSuffix(rest, []byte("]}")) {
		return nil, false
	}
	args := rest[len(argsKey) : len(rest)-2]
	out := make([]byte, 0, len(args)+len(`{"type":1,"data":[],"id":}`)+maxIDDigits)
	out = append(out, `{"type":1,"data":[`...)
	out = append(out, args...)
	out = strconv.AppendUint(append(out, `],"id":`...), id, 10)
	return append(out, '}'), true
}

// parseID reads a request id written in decimal: 1 to 2^53−1, no sign, no
// leading zero.
func parseID(digits []byte) (uint64, bool) {
	if len(digits) == 0 || len(digits) > maxIDDigits || digits[0] == '0' {
		return 0, false
	}
	var id uint64
	for _, d := range digits {
		if d < '0' || d > '9' {
			return 0, false
		}
		id = id*10 + uint64(d-'0')
	}
	return id, id <= 1<<53-1
}
