package events

// The builders return structs, not maps, so encoding an envelope costs no map
// and the key order on the wire is fixed. Both JSON and MessagePack tags are
// set because either parser may encode them.

// EventMsg is an event envelope; id 0 means no ack is wanted.
type EventMsg struct {
	V     int    `json:"allspark" msgpack:"allspark"`
	Event string `json:"event" msgpack:"event"`
	Args  []any  `json:"args" msgpack:"args"`
	ID    uint64 `json:"id,omitempty" msgpack:"id,omitempty"`
}

// AckMsg is a successful reply.
type AckMsg struct {
	V    int    `json:"allspark" msgpack:"allspark"`
	Ack  uint64 `json:"ack" msgpack:"ack"`
	Args []any  `json:"args" msgpack:"args"`
}

// AckErrorMsg is a failed reply.
type AckErrorMsg struct {
	V     int       `json:"allspark" msgpack:"allspark"`
	Ack   uint64    `json:"ack" msgpack:"ack"`
	Error ErrorBody `json:"error" msgpack:"error"`
}

// ReportMsg reports a failed event that asked for no ack.
type ReportMsg struct {
	V     int       `json:"allspark" msgpack:"allspark"`
	Error ErrorBody `json:"error" msgpack:"error"`
}

// NewEvent builds an event envelope. A nil args is sent as [].
func NewEvent(name string, args []any, id uint64) EventMsg {
	if args == nil {
		args = []any{}
	}
	return EventMsg{V: Version, Event: name, Args: args, ID: id}
}

// NewAck builds a successful reply.
func NewAck(id uint64, args []any) AckMsg {
	if args == nil {
		args = []any{}
	}
	return AckMsg{V: Version, Ack: id, Args: args}
}

// NewFailure builds the answer to a failed event: an ack error when the event
// asked for an ack (id > 0), a report otherwise.
func NewFailure(id uint64, body ErrorBody) any {
	if id > 0 {
		return AckErrorMsg{V: Version, Ack: id, Error: body}
	}
	return ReportMsg{V: Version, Error: body}
}
