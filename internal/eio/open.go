package eio

import "strconv"

// OpenPacket is the handshake: the data of the open packet the server sends
// first on a new session. Times are in milliseconds, as on the wire;
// MaxPayload is the server's maxHttpBufferSize, which the client honours
// when it batches packets into a POST.
type OpenPacket struct {
	SID          string
	Upgrades     []string // ["websocket"] on a polling session, none on a WebSocket one
	PingInterval int
	PingTimeout  int
	MaxPayload   int
}

// AppendOpen appends the open packet for o, type digit included:
//
//	0{"sid":"...","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}
//
// with the reference's key order. upgrades is always an array, [] when o has
// none: the stock client iterates it, and null would break it.
func AppendOpen(dst []byte, o OpenPacket) []byte {
	dst = append(dst, '0')
	dst = append(dst, `{"sid":`...)
	dst = appendJSONString(dst, o.SID)
	dst = append(dst, `,"upgrades":[`...)
	for i, u := range o.Upgrades {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, u)
	}
	dst = append(dst, `],"pingInterval":`...)
	dst = strconv.AppendInt(dst, int64(o.PingInterval), 10)
	dst = append(dst, `,"pingTimeout":`...)
	dst = strconv.AppendInt(dst, int64(o.PingTimeout), 10)
	dst = append(dst, `,"maxPayload":`...)
	dst = strconv.AppendInt(dst, int64(o.MaxPayload), 10)
	return append(dst, '}')
}
