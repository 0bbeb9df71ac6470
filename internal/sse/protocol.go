package sse

import (
	"bytes"
	"encoding/base64"
	"encoding/json"

	"github.com/allspark/allspark/internal/events"
	"github.com/allspark/allspark/internal/transport"
)

// Slot is the SSE protocol's index in transport.Shared.
const Slot = 2

// newProtocol returns the SSE protocol of a server whose canonical
// encoding transcode turns into JSON text (nil: it already is JSON).
func newProtocol(transcode func(payload []byte, binary bool) ([]byte, error)) transport.Protocol {
	return transport.Protocol{
		Name:         "sse",
		Slot:         Slot,
		OwnHeartbeat: true, // comment heartbeats; an EventSource cannot answer a ping
		Frame: func(m *transport.Message) ([]byte, bool) {
			return frame(m, transcode), false
		},
	}
}

// frame turns one message into the fields of its event, blank line
// included, without the id (each stream numbers its own events): a named
// event envelope becomes "event: <name>" and its arguments as data (one
// argument: that argument; none or several: the array), anything else is
// the message's JSON as data. Primus control messages have no event: a
// ping or an id answer is skipped (nil), and the session itself writes
// what a server close means.
func frame(m *transport.Message, transcode func([]byte, bool) ([]byte, error)) []byte {
	if m.Control != transport.Data {
		return nil
	}
	data := m.Payload
	switch {
	case transcode != nil:
		var err error
		if data, err = transcode(m.Payload, m.Binary); err != nil {
			return nil // nothing an EventSource could read; dropped
		}
	case m.Binary:
		// Raw bytes under the JSON parser: sent as JSON sends []byte, a
		// base64 string.
		data = make([]byte, 0, base64.StdEncoding.EncodedLen(len(m.Payload))+2)
		data = append(data, '"')
		data = base64.StdEncoding.AppendEncode(data, m.Payload)
		data = append(data, '"')
	}
	if name, args, ok := eventOf(data); ok {
		return AppendEvent(make([]byte, 0, len(args)+len(name)+16), name, args)
	}
	return AppendEvent(make([]byte, 0, len(data)+8), "", data)
}

var allsparkKey = []byte(`"` + events.Key + `"`)

// eventOf reads data as a named event envelope (docs/events.md): it
// reports the event's name and the data an EventSource gets for it, the
// raw JSON of its only argument or of its argument array. Anything else
// is not an event (false) and is sent as plain data: an ack, a malformed
// envelope, a name that cannot be emitted (reserved ones such as "open"
// and "error", which an EventSource fires itself) or that holds a line
// break.
func eventOf(data []byte) (name string, args []byte, ok bool) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' || !bytes.Contains(data, allsparkKey) {
		return "", nil, false
	}
	var raw map[string]json.RawMessage
	if json.Unmarshal(data, &raw) != nil {
		return "", nil, false
	}
	// events.Parse decides, on the members it looks at, with the
	// arguments left raw: they are sent as they were encoded.
	m := make(map[string]any, 4)
	for _, k := range [...]string{events.Key, "event", "ack", "id"} {
		if v, present := raw[k]; present {
			var x any
			if json.Unmarshal(v, &x) != nil {
				return "", nil, false
			}
			m[k] = x
		}
	}
	list, hasArgs := raw["args"]
	var elems []json.RawMessage
	if hasArgs && !bytes.Equal(bytes.TrimSpace(list), []byte("null")) {
		if json.Unmarshal(list, &elems) != nil {
			return "", nil, false // not an array
		}
	}
	env, marked, err := events.Parse(m)
	if !marked || err != nil || env.Kind != events.Event || !events.ValidName(env.Name) || !ValidName(env.Name) {
		return "", nil, false
	}
	switch {
	case len(elems) == 1:
		return env.Name, elems[0], true
	case len(elems) == 0:
		return env.Name, []byte("[]"), true
	}
	return env.Name, list, true
}
