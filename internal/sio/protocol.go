package sio

import (
	"bytes"
	"encoding/binary"
	"encoding/json"

	"github.com/allspark/allspark/internal/events"
	"github.com/allspark/allspark/internal/transport"
	"github.com/allspark/allspark/parser"
)

// Slot is the Socket.IO protocol's index in transport.Shared.
const Slot = 0

// ErrorEvent is the event a Socket.IO client receives for an error report
// (an event it sent without an ack id that the server could not handle):
// the stock client ignores an event nobody listens to, and an application
// can listen to this one.
const ErrorEvent = "allspark:error"

// MessageEvent is Socket.IO's event for send(): a spark's Write arrives
// as it, and a client's send(x) reaches the spark's data handlers.
const MessageEvent = "message"

// envelopePrefix starts the JSON encoding of every event envelope the
// server builds (internal/events: the version key is the first field).
var envelopePrefix = []byte(`{"` + events.Key + `":1,`)

// Framing is how the server encodes messages, which the protocol needs to
// read them back.
type Framing struct {
	// JSON: the server's parser is the JSON one, so frames are made from
	// its bytes without decoding (envelopes are read for their shape
	// only, their arguments stay as encoded).
	JSON bool
	// Decode is the server's parser, for any other parser (MessagePack)
	// and for binary messages.
	Decode func(payload []byte, binary bool) (any, error)
}

// NewProtocol returns the Socket.IO protocol: it frames a message for the
// main namespace (a socket of another namespace inserts its name, see
// withNamespace). A frame with attachments is returned as binary: the
// packet and its attachments packed by packMulti, unpacked by the socket.
func NewProtocol(f Framing) *transport.Protocol {
	return &transport.Protocol{
		Name:         "socket.io",
		Slot:         Slot,
		OwnHeartbeat: true,
		Frame:        func(m *transport.Message) ([]byte, bool) { return frame(f, m) },
	}
}

func frame(f Framing, m *transport.Message) ([]byte, bool) {
	switch m.Control {
	case transport.Ping, transport.IDAnswer:
		return nil, false // Engine.IO pings; ids are in the CONNECT reply
	case transport.ServerClose:
		return []byte{'0' + byte(Disconnect)}, false
	}
	if f.JSON && m.Value == nil && !m.Binary {
		if out, ok := frameJSON(m.Payload); ok {
			return out, false
		}
	}
	v := m.Value
	if v == nil {
		var err error
		if v, err = f.Decode(m.Payload, m.Binary); err != nil {
			return nil, false
		}
	}
	return frameValue(v)
}

// frameJSON frames a JSON encoding without decoding its values: plain data
// becomes the message event's argument, an envelope is read for its kind,
// name and id, with the arguments kept as raw JSON.
func frameJSON(payload []byte) ([]byte, bool) {
	if !bytes.HasPrefix(payload, envelopePrefix) {
		out := make([]byte, 0, len(payload)+len(MessageEvent)+6)
		out = append(out, '0'+byte(Event), '[', '"')
		out = append(out, MessageEvent...)
		out = append(out, '"', ',')
		out = append(out, payload...)
		return append(out, ']'), true
	}
	if out, ok := frameEventJSON(payload); ok {
		return out, true
	}
	if out, ok := frameAckJSON(payload); ok {
		return out, true
	}
	var env struct {
		Event *string           `json:"event"`
		Args  []json.RawMessage `json:"args"`
		ID    uint64            `json:"id"`
		Ack   *uint64           `json:"ack"`
		Error json.RawMessage   `json:"error"`
	}
	if err := json.Unmarshal(payload, &env); err != nil {
		return nil, false
	}
	switch {
	case env.Event != nil:
		name, _ := json.Marshal(*env.Event)
		out := AppendHeader(nil, Event, 0, MainNamespace, env.ID, env.ID > 0)
		out = append(append(out, '['), name...)
		for _, a := range env.Args {
			out = append(append(out, ','), a...)
		}
		return append(out, ']'), true
	case env.Ack != nil && *env.Ack > 0:
		out := AppendHeader(nil, Ack, 0, MainNamespace, clientAckID(*env.Ack), true)
		if env.Error != nil {
			out = append(out, `[{"error":`...)
			out = append(out, env.Error...)
			return append(out, '}', ']'), true
		}
		out = append(out, '[')
		for i, a := range env.Args {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, a...)
		}
		return append(out, ']'), true
	case env.Error != nil:
		out := AppendHeader(nil, Event, 0, MainNamespace, 0, false)
		out = append(out, `["`+ErrorEvent+`",`...)
		out = append(out, env.Error...)
		return append(out, ']'), true
	}
	return nil, false
}

// eventPrefix and argsKey are the fixed parts of an event envelope as the
// server encodes it (internal/events EventMsg: version, event, args, id).
var (
	eventPrefix = []byte(`{"` + events.Key + `":1,"event":"`)
	argsKey     = []byte(`,"args":[`)
)

// frameEventJSON frames an event envelope in the layout the server's JSON
// encoding always has, `{"allspark":1,"event":"<name>","args":[<args>]}`
// with an optional `,"id":<n>` before the brace, by slicing it: the name
// and the arguments are copied as they are. Anything else (another node's
// encoder, a hand-written envelope) reports false and is read in full.
func frameEventJSON(payload []byte) ([]byte, bool) {
	if !bytes.HasPrefix(payload, eventPrefix) {
		return nil, false
	}
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
	rest = rest[len(argsKey):]
	var id uint64
	switch {
	case bytes.HasSuffix(rest, []byte("]}")):
		rest = rest[:len(rest)-2]
	default:
		i := bytes.LastIndex(rest, []byte(`],"id":`))
		if i < 0 || rest[len(rest)-1] != '}' {
			return nil, false
		}
		digits := rest[i+len(`],"id":`) : len(rest)-1]
		for _, d := range digits {
			if d < '0' || d > '9' {
				return nil, false
			}
			id = id*10 + uint64(d-'0')
		}
		if len(digits) == 0 || len(digits) > maxEnvelopeIDDigits {
			return nil, false
		}
		rest = rest[:i]
	}
	out := make([]byte, 0, len(name)+len(rest)+24)
	out = AppendHeader(out, Event, 0, MainNamespace, id, id > 0)
	out = append(append(out, '['), name...)
	if len(rest) > 0 {
		out = append(append(out, ','), rest...)
	}
	return append(out, ']'), true
}

// maxEnvelopeIDDigits: envelope ids go up to 2^53-1, 16 digits.
const maxEnvelopeIDDigits = 16

// ackPrefix starts an ack envelope as the server encodes it (internal/events
// AckMsg: version, ack, args).
var ackPrefix = []byte(`{"` + events.Key + `":1,"ack":`)

// frameAckJSON frames a reply in the layout the server's JSON encoding
// always has, `{"allspark":1,"ack":<n>,"args":[<args>]}`, by slicing, as
// frameEventJSON does for events: replies are per receiver (never shared),
// so this is paid once per ack.
func frameAckJSON(payload []byte) ([]byte, bool) {
	if !bytes.HasPrefix(payload, ackPrefix) || !bytes.HasSuffix(payload, []byte("]}")) {
		return nil, false
	}
	rest := payload[len(ackPrefix):]
	i := 0
	var id uint64
	for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
		id = id*10 + uint64(rest[i]-'0')
	}
	if i == 0 || i > maxEnvelopeIDDigits || id == 0 || !bytes.HasPrefix(rest[i:], argsKey) {
		return nil, false
	}
	args := rest[i+len(argsKey) : len(rest)-2]
	out := make([]byte, 0, len(args)+20)
	out = AppendHeader(out, Ack, 0, MainNamespace, clientAckID(id), true)
	out = append(append(out, '['), args...)
	return append(out, ']'), true
}

// frameValue frames a value: a local write (which may hold []byte), or
// the decoding of a binary or MessagePack message.
func frameValue(v any) ([]byte, bool) {
	var (
		t    = Event
		id   uint64
		list []any
	)
	switch x := v.(type) {
	case events.EventMsg:
		id, list = x.ID, append([]any{x.Event}, x.Args...)
	case events.AckMsg:
		t, id, list = Ack, clientAckID(x.Ack), x.Args
	case events.AckErrorMsg:
		t, id, list = Ack, clientAckID(x.Ack), []any{map[string]any{"error": x.Error}}
	case events.ReportMsg:
		list = []any{ErrorEvent, x.Error}
	default:
		env, ok, err := events.Parse(v)
		switch {
		case !ok:
			list = []any{MessageEvent, v}
		case err != nil:
			return nil, false
		case env.Kind == events.Event:
			id, list = env.ID, append([]any{env.Name}, env.Args...)
		case env.Kind == events.Ack:
			t, id, list = Ack, clientAckID(env.ID), env.Args
		case env.Kind == events.AckError:
			t, id, list = Ack, clientAckID(env.ID), []any{map[string]any{"error": env.Error}}
		default:
			list = []any{ErrorEvent, env.Error}
		}
	}
	if list == nil {
		list = []any{}
	}
	var atts [][]byte
	data := deconstruct(list, &atts)
	body, _, err := parser.JSON{}.Encode(data)
	if err != nil {
		return nil, false
	}
	hasID := id > 0 || t == Ack
	if len(atts) == 0 {
		out := AppendHeader(nil, t, 0, MainNamespace, id, hasID)
		return append(out, body...), false
	}
	bt := BinaryEvent
	if t == Ack {
		bt = BinaryAck
	}
	text := AppendHeader(nil, bt, len(atts), MainNamespace, id, hasID)
	return packMulti(append(text, body...), atts), true
}

// clientAckID is the Socket.IO ack id of a reply: the client numbers its
// requests from 0, and the server's envelopes number them from 1 (0 there
// means "no ack"), so a client's id n travels as n+1 inside the server
// (conn.event) and goes back out as n.
func clientAckID(envelopeID uint64) uint64 { return envelopeID - 1 }

// packMulti packs a packet and its attachments into one frame, so a
// shared message caches one []byte: each part is its length (uvarint) and
// its bytes, the packet first.
func packMulti(text []byte, atts [][]byte) []byte {
	n := binary.MaxVarintLen64 + len(text)
	for _, a := range atts {
		n += binary.MaxVarintLen64 + len(a)
	}
	out := make([]byte, 0, n)
	out = binary.AppendUvarint(out, uint64(len(text)))
	out = append(out, text...)
	for _, a := range atts {
		out = binary.AppendUvarint(out, uint64(len(a)))
		out = append(out, a...)
	}
	return out
}

// unpackMulti calls fn for each part packed by packMulti, in order: the
// packet (binary false), then each attachment.
func unpackMulti(frame []byte, fn func(part []byte, binary bool)) {
	first := true
	for len(frame) > 0 {
		l, k := binary.Uvarint(frame)
		if k <= 0 || uint64(len(frame)-k) < l {
			return
		}
		fn(frame[k:k+int(l)], !first)
		first = false
		frame = frame[k+int(l):]
	}
}
