package emitter

import "github.com/allspark/allspark/internal/events"

// Packet types, as primus-emitter numbers them.
const (
	TypeEvent = 0
	TypeAck   = 1
)

// ErrorEvent is the event an emitter client receives for an error report
// (an event it sent without an ack id that the server could not handle).
// primus-emitter has no error packet; a client that listens to this event
// hears about it, one that does not ignores it. The same name as the
// Socket.IO wire's, so an application listens once.
const ErrorEvent = "allspark:error"

// Packet is a primus-emitter packet as the server writes it. Both JSON and
// MessagePack tags are set because either parser may encode it; the field
// order is the one primus-emitter's own packet() builds.
type Packet struct {
	Type int    `json:"type" msgpack:"type"`
	Data []any  `json:"data" msgpack:"data"`
	ID   uint64 `json:"id,omitempty" msgpack:"id,omitempty"`
}

// Parse reports whether v, a value decoded by the server's parser, is a
// primus-emitter packet, and reads it as the event envelope it stands
// for. Only the exact shape counts, so that plain data is not taken for a
// packet by accident more often than it must:
//
//   - an object with the keys "type" and "data", and "id", and no other;
//   - "type" 0 (event): "data" a non-empty array whose first element is a
//     string of 1 to events.MaxNameLen bytes, the name; "id", if present,
//     a positive integer below 2^53 (the client wants an ack);
//   - "type" 1 (ack): "id" present and valid as above, "data" an array,
//     the reply's arguments.
//
// Anything else (other keys, another type, a name that is not a string,
// an id of the wrong kind) is not a packet: it stays plain data. An event
// with a reserved name is a packet; the event machinery answers it.
func Parse(v any) (events.Envelope, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) < 2 || len(m) > 3 {
		return events.Envelope{}, false
	}
	rawType, ok := m["type"]
	if !ok {
		return events.Envelope{}, false
	}
	data, ok := m["data"].([]any)
	if !ok {
		return events.Envelope{}, false
	}
	var id uint64
	if rawID, has := m["id"]; has {
		if id, ok = events.RequestID(rawID); !ok {
			return events.Envelope{}, false
		}
	} else if len(m) == 3 {
		return events.Envelope{}, false // a third key that is not "id"
	}
	t, ok := events.Integer(rawType)
	switch {
	case !ok:
	case t == TypeEvent:
		if len(data) == 0 {
			return events.Envelope{}, false
		}
		name, ok := data[0].(string)
		if !ok || name == "" || len(name) > events.MaxNameLen {
			return events.Envelope{}, false
		}
		return events.Envelope{Kind: events.Event, Name: name, Args: data[1:], ID: id}, true
	case t == TypeAck && id > 0:
		return events.Envelope{Kind: events.Ack, ID: id, Args: data}, true
	}
	return events.Envelope{}, false
}

// FromEnvelope is the packet that carries env to an emitter client:
//
//	event            {"type":0,"data":[name,args...],"id"?}
//	ack              {"type":1,"data":[args...],"id":n}
//	ack error        {"type":1,"data":[{"error":{code,message,event}}],"id":n}
//	error report     {"type":0,"data":["allspark:error",{code,message,event}]}
//
// An ack error is the one argument {"error": body}, as on the Socket.IO
// wire: primus-emitter has no error packet.
func FromEnvelope(env events.Envelope) Packet {
	switch env.Kind {
	case events.Event:
		data := make([]any, 0, len(env.Args)+1)
		return Packet{Type: TypeEvent, Data: append(append(data, env.Name), env.Args...), ID: env.ID}
	case events.Ack:
		args := env.Args
		if args == nil {
			args = []any{}
		}
		return Packet{Type: TypeAck, Data: args, ID: env.ID}
	case events.AckError:
		return Packet{Type: TypeAck, Data: []any{map[string]any{"error": env.Error}}, ID: env.ID}
	}
	return Packet{Type: TypeEvent, Data: []any{ErrorEvent, env.Error}}
}
