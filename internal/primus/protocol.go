package primus

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Prefix starts every control message.
const Prefix = "primus::"

// Kind names a control message.
type Kind uint8

// The control messages of the websockets transformer.
const (
	None   Kind = iota // not a control message: ordinary data
	Ping               // server → client, "primus::ping::<ms>"
	Pong               // client → server, "primus::pong::<ms>"
	ID                 // both ways: "primus::id::" asks, "primus::id::<id>" answers
	Server             // server → client, "primus::server::close"
)

// ServerClose is the message the server writes before an intentional close.
const ServerClose = Prefix + "server::close"

// IDRequest is what a client writes to ask for its spark id.
const IDRequest = Prefix + "id::"

// pongJSON is how a pong arrives under the JSON parser, up to its value.
const pongJSON = `"` + Prefix + "pong::"

// IsPongJSON reports whether payload is a pong as the JSON parser writes
// it: the string "primus::pong::<value>" with no escapes and no
// surrounding whitespace, in UTF-8, which is every Primus client's pong. A server
// answers it without decoding (a heartbeat allocates nothing); anything
// else, escaped pongs included, takes the decoder and Parse.
func IsPongJSON(payload []byte) bool {
	if len(payload) < len(pongJSON)+1 || string(payload[:len(pongJSON)]) != pongJSON || payload[len(payload)-1] != '"' {
		return false
	}
	value := payload[len(pongJSON) : len(payload)-1]
	for _, b := range value {
		if b < 0x20 || b == '"' || b == '\\' {
			return false
		}
	}
	return utf8.Valid(value)
}

// Parse reports whether v is a control message, and its kind and value (the
// text after "primus::<kind>::"). Unknown primus:: messages are None, because
// Primus hands them to the application as data.
func Parse(v any) (Kind, string) {
	s, ok := v.(string)
	if !ok || !strings.HasPrefix(s, Prefix) {
		return None, ""
	}
	rest := s[len(Prefix):]
	name, value, ok := strings.Cut(rest, "::")
	if !ok {
		return None, ""
	}
	switch name {
	case "ping":
		return Ping, value
	case "pong":
		return Pong, value
	case "id":
		return ID, value
	case "server":
		return Server, value
	}
	return None, ""
}

// IsReserved reports whether s would be read as a control message by a
// Primus peer (ping, pong, id or server); applications must not write such
// strings. Other "primus::" strings are ordinary data to Primus, so they are
// allowed.
func IsReserved(s string) bool {
	k, _ := Parse(s)
	return k != None
}

// PingMessage returns "primus::ping::<ms>".
func PingMessage(ms int64) string { return Prefix + "ping::" + strconv.FormatInt(ms, 10) }

// PongMessage returns "primus::pong::<value>", echoing a ping's value.
func PongMessage(value string) string { return Prefix + "pong::" + value }

// IDMessage returns "primus::id::<id>".
func IDMessage(id string) string { return Prefix + "id::" + id }
