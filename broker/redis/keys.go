package redis

import (
	"encoding/hex"
	"hash/fnv"
	"strings"
)

// keys names the broker's Redis keys (the channels are topics.go's):
//
//	<prefix>:h:<room>:s    a room's history stream (STREAM, entry ID <offset>-0)
//	<prefix>:h:<room>:m    its position (HASH: e = epoch, s = top offset)
//	<prefix>:s:<id>        a session record (STRING)
//
// The kind letter comes last, so a room name can never make one room's
// stream key another's meta key (the last byte differs), whatever bytes it
// holds.
//
// In Cluster mode a room's two keys must hash to one slot, since one
// script touches both (Redis refuses a script across slots, and the client
// even panics building such a command): the room becomes the hash tag, <prefix>:h:{<room>}:s,
// the tag its PUB/SUB channel (<prefix>:r:{<room>}) has too. A hash tag ends
// at its first '}' and an empty one does not count, so a room that is
// empty or holds a '}' is tagged by a hash of its name instead:
// <prefix>:h:{#<16 hex digits>}=<room>:s ('=' after the tag tells the two
// forms apart). Session keys are single keys, tagged by the id only for
// symmetry.
type keys struct {
	history string // prefix up to the room
	session string // prefix up to the id
	cluster bool
}

func newKeys(prefix string, cluster bool) keys {
	return keys{history: prefix + ":h:", session: prefix + ":s:", cluster: cluster}
}

// Kinds of history keys.
const (
	keyStream = 's'
	keyMeta   = 'm'
)

// appendHistory appends room's history key of kind (keyStream, keyMeta).
func (k *keys) appendHistory(dst []byte, room string, kind byte) []byte {
	dst = append(dst, k.history...)
	switch {
	case !k.cluster:
		dst = append(dst, room...)
	case room != "" && !strings.Contains(room, "}"):
		dst = append(dst, '{')
		dst = append(dst, room...)
		dst = append(dst, '}')
	default:
		h := fnv.New64a()
		_, _ = h.Write([]byte(room))
		var sum [8]byte
		dst = append(dst, '{', '#')
		dst = hex.AppendEncode(dst, h.Sum(sum[:0]))
		dst = append(dst, '}', '=')
		dst = append(dst, room...)
	}
	return append(dst, ':', kind)
}

// sessionKey is id's session key.
func (k *keys) sessionKey(id string) string {
	if k.cluster {
		return k.session + "{" + id + "}"
	}
	return k.session + id
}
