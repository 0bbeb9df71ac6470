package proto

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Protocol is the client side of one server's protocol. Implementations are
// stateless and safe for concurrent use; messages are text frames.
type Protocol interface {
	// Name is the server kind, as used on the command line.
	Name() string
	// Path is the request target that opens a connection which is a member
	// of rooms (none for echo and publishers).
	Path(rooms []string) string
	// Hello lists the messages to send right after the WebSocket opens.
	Hello(rooms []string) [][]byte
	// HelloReplies is how many replies to the hello messages (or greetings)
	// arrive before the connection is ready; Replies counts them in a message.
	HelloReplies(rooms []string) int
	Replies(msg []byte) int
	// AppendEcho appends a message the server writes back to the sender;
	// id (1, 2, … per connection) is its request id for protocols that
	// acknowledge (Socket.IO acks), ignored by the others.
	AppendEcho(dst []byte, id uint64, payload []byte) []byte
	// EchoReply reports whether msg, carrying an echoed payload, is the kind
	// of answer the echo scenario asks for (an ack for Socket.IO); the load
	// generator counts only those.
	EchoReply(msg []byte) bool
	// AppendPublish appends a message that makes the server deliver payload to
	// every member of room; id is unique per connection (for protocols with
	// request ids).
	AppendPublish(dst []byte, id uint64, room string, payload []byte) []byte
	// Heartbeat returns the answer to a server heartbeat carried in msg, or
	// nil when msg is not one.
	Heartbeat(msg []byte) []byte
}

// ByName returns the protocol for a server kind.
func ByName(name string) (Protocol, error) {
	switch name {
	case "allspark", "allspark-cli", "allspark-goroutine", "allspark-nethttp", "primus", "primus-eio", "node-sse":
		return Primus{Kind: name}, nil
	case "allspark-deflate":
		return Primus{Kind: name, Deflate: true}, nil
	case "socketio", "zishang", "allspark-sio":
		return SocketIO{Kind: name}, nil
	case "centrifuge":
		return Centrifuge{}, nil
	case "raw", "raw-epoll":
		return Raw{Kind: name}, nil
	}
	return nil, fmt.Errorf("proto: unknown server kind %q", name)
}

// ValidRoom reports whether a room name can be used unescaped in every
// protocol (URL query, JSON string, raw header line): 1–64 bytes of
// [A-Za-z0-9_-].
func ValidRoom(r string) bool {
	if r == "" || len(r) > 64 {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func roomsQuery(prefix string, rooms []string) string {
	if len(rooms) == 0 {
		return prefix
	}
	sep := "?"
	if strings.Contains(prefix, "?") {
		sep = "&"
	}
	return prefix + sep + "rooms=" + strings.Join(rooms, ",")
}

func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// Primus is the Primus wire protocol (websockets transformer, JSON parser),
// spoken by Allspark and by a stock Node Primus server.
type Primus struct {
	Kind string
	// Deflate offers permessage-deflate and requires it
	// (wsframe.DialOptions.Deflate): allspark-deflate.
	Deflate bool
}

// OffersDeflate reports whether connections of p offer (and require)
// permessage-deflate.
func OffersDeflate(p Protocol) bool {
	d, ok := p.(interface{ offersDeflate() bool })
	return ok && d.offersDeflate()
}

func (p Primus) offersDeflate() bool { return p.Deflate }

var (
	primusPing = []byte(`"primus::ping::`)
	primusPong = []byte(`"primus::pong::`)
)

func (p Primus) Name() string {
	if p.Kind == "" {
		return "primus"
	}
	return p.Kind
}
func (Primus) Path(rooms []string) string                       { return roomsQuery("/primus", rooms) }
func (Primus) Hello([]string) [][]byte                          { return nil }
func (Primus) HelloReplies([]string) int                        { return 0 }
func (Primus) Replies([]byte) int                               { return 0 }
func (Primus) AppendEcho(dst []byte, _ uint64, p []byte) []byte { return appendJSONString(dst, p) }
func (Primus) EchoReply([]byte) bool                            { return true }
func (Primus) AppendPublish(dst []byte, _ uint64, room string, p []byte) []byte {
	dst = append(dst, `{"publish":"`...)
	dst = append(dst, room...)
	dst = append(dst, `","data":`...)
	dst = appendJSONString(dst, p)
	return append(dst, '}')
}

// Heartbeat answers "primus::ping::<ms>" with "primus::pong::<ms>".
func (Primus) Heartbeat(msg []byte) []byte {
	if !bytes.HasPrefix(msg, primusPing) {
		return nil
	}
	out := append([]byte(nil), primusPong...)
	return append(out, msg[len(primusPing):]...)
}

// SocketIO is Engine.IO v4 carrying Socket.IO v5 packets, WebSocket only,
// spoken by every Socket.IO server under test; Kind names which one.
type SocketIO struct{ Kind string }

func (s SocketIO) Name() string {
	if s.Kind == "" {
		return "socketio"
	}
	return s.Kind
}
func (SocketIO) Path(rooms []string) string {
	return roomsQuery("/socket.io/?EIO=4&transport=websocket", rooms)
}

// Hello joins the main namespace ("4" message, "0" connect).
func (SocketIO) Hello([]string) [][]byte { return [][]byte{[]byte("40")} }

// HelloReplies: the Engine.IO open packet and the namespace connect reply.
func (SocketIO) HelloReplies([]string) int { return 2 }
func (SocketIO) Replies(msg []byte) int {
	if bytes.HasPrefix(msg, []byte("0{")) || bytes.HasPrefix(msg, []byte("40")) {
		return 1
	}
	return 0
}

// AppendEcho is an EVENT asking for an ack: 42<id>["echo",p], answered
// 43<id>[p].
func (SocketIO) AppendEcho(dst []byte, id uint64, p []byte) []byte {
	dst = append(dst, "42"...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `["echo",`...)
	dst = appendJSONString(dst, p)
	return append(dst, ']')
}

// EchoReply: only an ACK packet (43<id>[…]) answers the echo; an 'echo'
// event emitted back instead does not count.
func (SocketIO) EchoReply(msg []byte) bool { return bytes.HasPrefix(msg, []byte("43")) }
func (SocketIO) AppendPublish(dst []byte, _ uint64, room string, p []byte) []byte {
	dst = append(dst, `42["publish","`...)
	dst = append(dst, room...)
	dst = append(dst, `",`...)
	dst = appendJSONString(dst, p)
	return append(dst, ']')
}

// Heartbeat answers the Engine.IO ping "2" with pong "3".
func (SocketIO) Heartbeat(msg []byte) []byte {
	if len(msg) == 1 && msg[0] == '2' {
		return []byte("3")
	}
	return nil
}

// Centrifuge is centrifuge's JSON client protocol (commands and replies as
// JSON objects; the server may send several replies in one frame, separated by
// newlines).
type Centrifuge struct{}

func (Centrifuge) Name() string                    { return "centrifuge" }
func (Centrifuge) Path([]string) string            { return "/connection/websocket" }
func (Centrifuge) HelloReplies(rooms []string) int { return 1 + len(rooms) }

// Hello is the connect command and one subscribe command per room, with ids
// 1, 2, ….
func (Centrifuge) Hello(rooms []string) [][]byte {
	out := [][]byte{[]byte(`{"id":1,"connect":{}}`)}
	for i, r := range rooms {
		out = append(out, []byte(`{"id":`+strconv.Itoa(i+2)+`,"subscribe":{"channel":"`+r+`"}}`))
	}
	return out
}

// Replies counts reply lines (objects starting with an id) that are not
// errors; an error reply makes the hello never complete, which the load
// generator reports as a connection that did not become ready.
func (Centrifuge) Replies(msg []byte) int {
	n := 0
	for line := range bytes.SplitSeq(msg, []byte("\n")) {
		if bytes.HasPrefix(line, []byte(`{"id":`)) && !bytes.Contains(line, []byte(`"error":`)) {
			n++
		}
	}
	return n
}
func (Centrifuge) EchoReply([]byte) bool { return true }
func (Centrifuge) AppendEcho(dst []byte, _ uint64, p []byte) []byte {
	dst = append(dst, `{"send":{"data":`...)
	dst = appendJSONString(dst, p)
	return append(dst, "}}"...)
}
func (Centrifuge) AppendPublish(dst []byte, id uint64, room string, p []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, `,"publish":{"channel":"`...)
	dst = append(dst, room...)
	dst = append(dst, `","data":`...)
	dst = appendJSONString(dst, p)
	return append(dst, "}}"...)
}

// Heartbeat answers the server's empty-object ping with an empty object.
func (Centrifuge) Heartbeat(msg []byte) []byte {
	for line := range bytes.SplitSeq(msg, []byte("\n")) {
		if string(line) == "{}" {
			return []byte("{}")
		}
	}
	return nil
}

// Raw is the protocol of the bare limit servers (srv-raw, either engine):
// no envelope at all. Kind is "raw" (the default) or "raw-epoll".
type Raw struct{ Kind string }

func (r Raw) Name() string {
	if r.Kind == "" {
		return "raw"
	}
	return r.Kind
}
func (Raw) Path(rooms []string) string                       { return roomsQuery("/raw", rooms) }
func (Raw) Hello([]string) [][]byte                          { return nil }
func (Raw) HelloReplies([]string) int                        { return 0 }
func (Raw) Replies([]byte) int                               { return 0 }
func (Raw) AppendEcho(dst []byte, _ uint64, p []byte) []byte { return appendJSONString(dst, p) }
func (Raw) EchoReply([]byte) bool                            { return true }
func (Raw) AppendPublish(dst []byte, _ uint64, room string, p []byte) []byte {
	dst = append(dst, 'P')
	dst = append(dst, room...)
	dst = append(dst, '\n')
	return appendJSONString(dst, p)
}
func (Raw) Heartbeat([]byte) []byte { return nil }
