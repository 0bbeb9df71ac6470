package nats

import (
	"crypto/sha256"
	"strings"
)

// Subjects. Room and node names are arbitrary strings: they may hold '.',
// '*', '>', spaces, NUL or any unicode, each of which would split a NATS
// subject into tokens, make it a wildcard or end it on the wire. So a name
// never appears in a subject as itself: it is encoded into one token over
// the alphabet [A-Za-z0-9_-] (base64url without padding), which NATS treats
// as plain characters.
//
//	"b" + base64url(name)            names up to maxPlainName bytes
//	"h" + base64url(sha256(name))    longer names (a 44-byte token)
//
// The first letter keeps the two forms apart, and makes the empty name a
// non-empty token ("b"). Long names are hashed because a subject travels in
// the protocol's control line (4 KiB by default); a hash collision could only
// bring a node traffic for a room it is not in, which the server filters
// locally anyway (publications carry their room names).
const maxPlainName = 96

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// subjects names the subjects of one prefix.
type subjects struct {
	prefix string
	all    string // <prefix>.all: broadcast publications and messages
}

func newSubjects(prefix string) subjects {
	return subjects{prefix: prefix, all: prefix + ".all"}
}

// room is the subject of a room's single-room publications.
func (s subjects) room(name string) string { return s.named(".r.", name) }

// node is the subject of messages to one node, and of its probes.
func (s subjects) node(name string) string { return s.named(".n.", name) }

// named builds <prefix><kind><token of name> in one allocation: it is on the
// publish path of every single-room publication.
func (s subjects) named(kind, name string) string {
	var sb strings.Builder
	if len(name) > maxPlainName {
		sum := sha256.Sum256([]byte(name))
		sb.Grow(len(s.prefix) + len(kind) + 1 + 43)
		sb.WriteString(s.prefix)
		sb.WriteString(kind)
		sb.WriteByte('h')
		appendBase64(&sb, string(sum[:]))
		return sb.String()
	}
	sb.Grow(len(s.prefix) + len(kind) + 1 + (len(name)*8+5)/6)
	sb.WriteString(s.prefix)
	sb.WriteString(kind)
	sb.WriteByte('b')
	appendBase64(&sb, name)
	return sb.String()
}

// appendBase64 writes src in unpadded base64url (RFC 4648 §5).
func appendBase64(sb *strings.Builder, src string) {
	for len(src) >= 3 {
		v := uint(src[0])<<16 | uint(src[1])<<8 | uint(src[2])
		sb.WriteByte(b64url[v>>18&63])
		sb.WriteByte(b64url[v>>12&63])
		sb.WriteByte(b64url[v>>6&63])
		sb.WriteByte(b64url[v&63])
		src = src[3:]
	}
	switch len(src) {
	case 2:
		v := uint(src[0])<<16 | uint(src[1])<<8
		sb.WriteByte(b64url[v>>18&63])
		sb.WriteByte(b64url[v>>12&63])
		sb.WriteByte(b64url[v>>6&63])
	case 1:
		v := uint(src[0]) << 16
		sb.WriteByte(b64url[v>>18&63])
		sb.WriteByte(b64url[v>>12&63])
	}
}
