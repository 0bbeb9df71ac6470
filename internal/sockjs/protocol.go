package sockjs

import "github.com/allspark/allspark/internal/transport"

// PlainSlot is the transport.Shared slot of the plain protocol.
const PlainSlot = 1

// plainProtocol is the protocol of the plain path: a stock sockjs-client
// exchanges plain strings with sparks. A message written as a string
// reaches the client as that string; any other value as its JSON text. The
// frame it caches for a broadcast is the message quoted for an "a" frame,
// so each receiver only copies it between "a[" and "]". SockJS has its own
// heartbeat ("h"), and a plain client cannot answer a Primus ping.
var plainProtocol = &transport.Protocol{Name: "sockjs", Slot: PlainSlot, Frame: framePlain, OwnHeartbeat: true}

// primusProtocol is the identity: under the Primus pathname each SockJS
// message is the Primus encoding itself, quoted into the frame per
// receiver, and Primus pings flow through as data (the stock Primus client
// on the sockjs transformer expects them).
var primusProtocol = &transport.Protocol{Name: "sockjs-primus"}

// framePlain is plainProtocol's Frame: the quoted message for data, the
// close frame c[3000,"Go away!"] for a server close, nothing for the other
// Primus controls (pings, id answers) and for binary payloads, which
// SockJS cannot carry.
func framePlain(m *transport.Message) ([]byte, bool) {
	switch {
	case m.Control == transport.ServerClose:
		return AppendClose(nil, CodeGoAway, reasonGoAway), false
	case m.Control != transport.Data, m.Binary:
		return nil, false
	}
	return appendPlain(nil, m.Payload), false
}

// appendPlain appends the quoted message for a canonical JSON encoding: a
// JSON string is unwrapped to its text, anything else is sent as its JSON
// text.
func appendPlain(dst, payload []byte) []byte {
	if len(payload) > 0 && payload[0] == '"' {
		if end, esc, ok := scanString(payload, 0); ok && end == len(payload) {
			if !esc {
				// Already a JSON string; re-quote only where SockJS
				// escapes more than the encoder did.
				return AppendQuote(dst, payload[1:end-1])
			}
			var d Decoder
			return AppendQuote(dst, d.unquote(payload, true))
		}
	}
	return AppendQuote(dst, payload)
}

// plainText is the text of a canonical encoding as the plain path sends
// it: a JSON string's text, or the JSON text itself (raw WebSocket).
func plainText(payload []byte) []byte {
	if len(payload) > 0 && payload[0] == '"' {
		if end, esc, ok := scanString(payload, 0); ok && end == len(payload) {
			if !esc {
				return payload[1 : end-1]
			}
			var d Decoder
			return append([]byte(nil), d.unquote(payload, true)...)
		}
	}
	return payload
}
