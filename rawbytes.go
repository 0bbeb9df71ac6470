package allspark

import "github.com/allspark/allspark/internal/events"

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
