package allspark

import (
	"github.com/allspark/allspark/internal/events"
	"github.com/allspark/allspark/parser"
)

// hasRawBytes reports whether v holds a []byte that a re-framing protocol
// may send as binary rather than as the canonical encoding's text: v
// itself, an event envelope's or ack's arguments, or an element of the
// dynamic shapes ([]any, map[string]any) they nest in. Typed structs are
// not walked (their []byte fields stay base64 strings, as encoding/json
// makes them), which keeps this a type switch on the common path.
func hasRawBytes(v any) bool { return rawBytesIn(v, 0) }

// maxRawBytesDepth bounds the walk, like Socket.IO's hasBinary bounds
// nothing but the stack: a value nested deeper is sent as encoded.
const maxRawBytesDepth = 32

func rawBytesIn(v any, depth int) bool {
	if depth > maxRawBytesDepth {
		return false
	}
	switch x := v.(type) {
	case []byte:
		return true
	case events.EventMsg:
		return anyRawBytes(x.Args, depth+1)
	case events.AckMsg:
		return anyRawBytes(x.Args, depth+1)
	case []any:
		return anyRawBytes(x, depth+1)
	case map[string]any:
		for _, e := range x {
			if rawBytesIn(e, depth+1) {
				return true
			}
		}
	}
	return false
}

func anyRawBytes(list []any, depth int) bool {
	for _, e := range list {
		if rawBytesIn(e, depth) {
			return true
		}
	}
	return false
}

// sideEncode is Publication.Value for data: its MessagePack encoding when
// it holds []byte the text payload could not keep, else nil.
func sideEncode(data any, binaryPayload bool) []byte {
	if binaryPayload || !hasRawBytes(data) {
		return nil
	}
	b, _, err := parser.MsgPack{}.Encode(data)
	if err != nil {
		return nil
	}
	return b
}

// sideValue reads Publication.Value back into the shape Server.encode
// gives a frame's Value: event and ack envelopes as their message types,
// anything else as decoded. nil when unreadable (the payload still goes).
func sideValue(b []byte) any {
	v, err := parser.MsgPack{}.Decode(b, true)
	if err != nil {
		return nil
	}
	env, ok, err := events.Parse(v)
	if !ok || err != nil {
		return v
	}
	switch env.Kind {
	case events.Event:
		return events.NewEvent(env.Name, env.Args, env.ID)
	case events.Ack:
		return events.NewAck(env.ID, env.Args)
	}
	return v
}
