package redis

import (
	"strings"
	"testing"
)

// Redis Cluster's slot of key: the CRC16 of its hash tag (the bytes between
// the first '{' and the first '}' after it, when not empty) or of the key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

func TestHistoryKeys(t *testing.T) {
	std := newKeys("p", false)
	if got := string(std.appendHistory(nil, "room", keyStream)); got != "p:h:room:s" {
		t.Errorf("stream key %q", got)
	}
	if got := string(std.appendHistory(nil, "room", keyMeta)); got != "p:h:room:m" {
		t.Errorf("meta key %q", got)
	}
	cl := newKeys("p", true)
	if got := string(cl.appendHistory(nil, "room", keyStream)); got != "p:h:{room}:s" {
		t.Errorf("cluster stream key %q", got)
	}
	if got := cl.sessionKey("id"); got != "p:s:{id}" {
		t.Errorf("cluster session key %q", got)
	}
	if tp := newTopics("p", true); hashTag(tp.name(tp.room, "room")) != hashTag(string(cl.appendHistory(nil, "room", keyMeta))) {
		t.Error("a room's channel and keys have different hash tags")
	}

	rooms := []string{"", "room", "room:s", "room:m", "r}x", "}", "{", "{x}", "a{b}c", "\x00/chat\x00room", "#0000000000000000", "=", "x}:s"}
	for _, prefix := range []string{"p", "p{q", "p{q}"} {
		for _, cluster := range []bool{false, true} {
			k := newKeys(prefix, cluster)
			seen := make(map[string]string)
			for _, room := range rooms {
				s := string(k.appendHistory(nil, room, keyStream))
				m := string(k.appendHistory(nil, room, keyMeta))
				for _, key := range []string{s, m} {
					if other, dup := seen[key]; dup {
						t.Errorf("prefix %q cluster=%v: %q is the key of room %q and %q", prefix, cluster, key, other, room)
					}
					seen[key] = room
				}
				if cluster && hashTag(s) != hashTag(m) {
					t.Errorf("prefix %q: room %q's keys %q and %q hash to different slots", prefix, room, s, m)
				}
				if cluster && hashTag(s) == s {
					t.Errorf("prefix %q: room %q's key %q has no hash tag", prefix, room, s)
				}
			}
		}
	}
}
