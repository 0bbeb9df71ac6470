package client

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// Names JSON must escape (control bytes: 6 bytes each) would make 64 rooms'
// _since about 100 KiB; the client sends only the most recent rooms that
// fit in the 32 KiB the server reads.
func TestSinceFitsTheServersLimit(t *testing.T) {
	var p positions
	for i := range maxRecoverRooms {
		p.set(fmt.Sprintf("%03d", i)+strings.Repeat("\x01", maxRoomLen-3), uint64(i+1), "E")
	}
	s := p.since()
	if len(s) > maxSinceLen {
		t.Fatalf("_since is %d bytes", len(s))
	}
	var m map[string][2]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) < 15 || len(m) == maxRecoverRooms {
		t.Fatalf("%d rooms in _since", len(m))
	}
	for i := maxRecoverRooms - len(m); i < maxRecoverRooms; i++ {
		room := fmt.Sprintf("%03d", i) + strings.Repeat("\x01", maxRoomLen-3)
		if got := m[room]; got[0] != float64(i+1) {
			t.Fatalf("room %d missing: the most recent rooms go first", i)
		}
	}
	if (&positions{}).since() != "" {
		t.Fatal("no rooms: no _since")
	}
}

// FuzzRecoverEnvelope: whatever a server sends, parseRecover neither panics
// nor accepts a value outside the bounds, and positions stay within theirs.
func FuzzRecoverEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"allspark":1,"session":{"id":"a","token":"a.b","restored":true,"recovered":false,"reason":"epoch"}}`,
		`{"allspark":1,"room":"r","offset":3,"epoch":"E","data":{"allspark":1,"event":"x","args":[]}}`,
		`{"allspark":1,"room":"r","offset":3,"epoch":"E"}`,
		`{"allspark":1,"room":"r","offset":-1,"epoch":"E"}`,
		`{"allspark":1,"room":"r","offset":1e300,"epoch":"E"}`,
		`{"allspark":1,"session":null}`,
		`{"allspark":2,"room":"r"}`,
		`{"allspark":1,"event":"x","room":"r"}`,
		`[1,2]`, `"primus::ping::1"`, `null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var v any
		if json.Unmarshal([]byte(in), &v) != nil {
			return
		}
		m, ok := parseRecover(v)
		if !ok {
			return
		}
		var p positions
		switch m.kind {
		case recoverSession:
			for _, s := range []string{m.token, m.session.ID, m.session.Reason} {
				if len(s) > maxTokenLen || !utf8.ValidString(s) {
					t.Fatalf("session string of %d bytes accepted", len(s))
				}
			}
			if m.token == "" || m.session.ID == "" {
				t.Fatal("empty token or id accepted")
			}
		case recoverStamped, recoverPosition:
			if m.room == "" || len(m.room) > maxRoomLen || m.epoch == "" || len(m.epoch) > maxEpochLen {
				t.Fatalf("room %q epoch %q accepted", m.room, m.epoch)
			}
			if (m.kind == recoverStamped && m.offset < 1) || m.offset > maxOffset {
				t.Fatalf("offset %d accepted", m.offset)
			}
			for i := range maxRecoverRooms + 2 {
				p.announce(fmt.Sprint(m.room, i), m.offset, m.epoch)
				p.judge(m.room, m.offset+1, m.epoch)
			}
			if len(p.rooms) > maxRecoverRooms || len(p.since()) > maxSinceLen {
				t.Fatalf("%d rooms kept", len(p.rooms))
			}
		case recoverBad:
			if m.reason == "" {
				t.Fatal("malformed without a reason")
			}
		default:
			t.Fatalf("kind %d", m.kind)
		}
	})
}
