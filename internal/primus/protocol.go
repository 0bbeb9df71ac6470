package primus

import (
	"strconv"
	"strings"
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
