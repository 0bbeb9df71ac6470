package redis

import "strings"

// topics names the broker's PUB/SUB channels:
//
//	<prefix>:all          publications for every node (All, several rooms,
//	                      sparks) and Send to every node
//	<prefix>:r:<room>     publications for exactly one room
//	<prefix>:n:<node>     Send to one node
//	<prefix>:k:<id>       the probes of one Broker value
//
// Room and node names are used as they are: Redis channel names are
// binary-safe. In Cluster mode the variable part is wrapped in a hash tag
// (<prefix>:r:{<room>}), so that each room's channel maps to one slot; with
// classic PUB/SUB a cluster forwards every PUBLISH to every node anyway, and
// the tag keeps the names ready for sharded PUB/SUB (SPUBLISH), where one
// slot per channel is what decides the node.
type topics struct {
	all     string
	room    string // prefix up to the room name
	node    string // prefix up to the node name
	probe   string // prefix up to the broker id
	cluster bool
}

func newTopics(prefix string, cluster bool) topics {
	return topics{
		all:     prefix + ":all",
		room:    prefix + ":r:",
		node:    prefix + ":n:",
		probe:   prefix + ":k:",
		cluster: cluster,
	}
}

// appendName appends the channel for name under kindPrefix.
func (t *topics) appendName(dst []byte, kindPrefix, name string) []byte {
	dst = append(dst, kindPrefix...)
	if t.cluster {
		dst = append(dst, '{')
		dst = append(dst, name...)
		return append(dst, '}')
	}
	return append(dst, name...)
}

func (t *topics) name(kindPrefix, name string) string {
	return string(t.appendName(nil, kindPrefix, name))
}

// parse maps a channel back to what it carries: kind is 'a' (all), 'r',
// 'n' or 'k', and name the room, node or broker id.
func (t *topics) parse(ch string) (kind byte, name string, ok bool) {
	var rest string
	switch {
	case ch == t.all:
		return 'a', "", true
	case strings.HasPrefix(ch, t.room):
		kind, rest = 'r', ch[len(t.room):]
	case strings.HasPrefix(ch, t.node):
		kind, rest = 'n', ch[len(t.node):]
	case strings.HasPrefix(ch, t.probe):
		kind, rest = 'k', ch[len(t.probe):]
	default:
		return 0, "", false
	}
	if t.cluster {
		if len(rest) < 2 || rest[0] != '{' || rest[len(rest)-1] != '}' {
			return 0, "", false
		}
		rest = rest[1 : len(rest)-1]
	}
	return kind, rest, true
}
