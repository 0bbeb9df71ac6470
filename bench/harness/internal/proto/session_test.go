package proto

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestParseStampReadsMessagesAndAnnouncements(t *testing.T) {
	payload := AppendPayload(nil, 7, 123, 40)
	msg := []byte(`{"allspark":1,"room":"r12","offset":1004,"epoch":"AbCdEfGh12","data":"` + string(payload) + `"}`)
	st, ok := ParseStamp(msg)
	if !ok || st.Room != "r12" || st.Pos != (Position{1004, "AbCdEfGh12"}) || !st.HasData {
		t.Fatalf("stamped message: %+v %v", st, ok)
	}
	if n := Scan(msg, nil); n != 1 {
		t.Fatalf("Scan found %d payloads in a stamped message", n)
	}
	st, ok = ParseStamp([]byte(`{"allspark":1,"room":"bench","offset":0,"epoch":"x1"}`))
	if !ok || st.HasData || st.Pos.Offset != 0 || st.Room != "bench" {
		t.Fatalf("announcement: %+v %v", st, ok)
	}
	for _, bad := range []string{
		`"` + string(payload) + `"`, // a plain Primus message: no stamp
		`{"allspark":1,"session":{"id":"a","token":"a.b"}}`,
		`{"allspark":1,"room":"r","offset":x,"epoch":"e"}`,
		`{"allspark":1,"room":"r","offset":1,"epoch":""}`,
		`{"allspark":1,"room":"r\"","offset":1,"epoch":"e"}`,
		`{"allspark":1,"room":"r","offset":1,"epoch":"e","other":1}`,
		`{"allspark":1,"room":"r","offset":1,"epoch":"e"`,
	} {
		if st, ok := ParseStamp([]byte(bad)); ok {
			t.Fatalf("%s parsed as %+v", bad, st)
		}
	}
}

func TestParseSession(t *testing.T) {
	s, err := ParseSession([]byte(`{"allspark":1,"session":{"id":"sp1","token":"sp1.sec","restored":true,"recovered":false,"reason":"truncated"}}`))
	if err != nil || s.ID != "sp1" || s.Token != "sp1.sec" || !s.Restored || s.Recovered || s.Reason != "truncated" {
		t.Fatalf("%+v %v", s, err)
	}
	for _, bad := range []string{`"#1:2:x"`, `{"allspark":1,"session":{"id":"a"}}`, `{"allspark":1,"session":`, `{"allspark":2,"session":{"token":"a.b"}}`} {
		if _, err := ParseSession([]byte(bad)); !errors.Is(err, ErrNotSession) {
			t.Fatalf("%s: %v", bad, err)
		}
	}
}

func TestResumePathCarriesTokenAndPositions(t *testing.T) {
	since := map[string]Position{"r1": {12, "Ep0ch"}, "r2": {0, "Zz9"}}
	p := ResumePath([]string{"r1", "r2"}, "sp1.a-b_c", since)
	u, err := url.Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Path != "/primus" || q.Get("rooms") != "r1,r2" || q.Get("_session") != "sp1.a-b_c" || q.Has("_recover") {
		t.Fatalf("%s", p)
	}
	// _since is what the server's parsePositions reads: room → [offset, "epoch"].
	var got map[string][2]json.RawMessage
	if err := json.Unmarshal([]byte(q.Get("_since")), &got); err != nil || len(got) != 2 {
		t.Fatalf("_since %q: %v", q.Get("_since"), err)
	}
	if string(got["r1"][0]) != "12" || string(got["r1"][1]) != `"Ep0ch"` || string(got["r2"][0]) != "0" {
		t.Fatalf("_since %q", q.Get("_since"))
	}
	if p := ResumePath(nil, "t.s", nil); p != "/primus?_session=t.s" {
		t.Fatalf("no rooms, no positions: %s", p)
	}
	if p := RecoverPath([]string{"bench"}); p != "/primus?rooms=bench&_recover=1" {
		t.Fatal(p)
	}
	if p := RecoverPath(nil); !strings.HasSuffix(p, "/primus?_recover=1") {
		t.Fatal(p)
	}
}

func TestPrimusSessionIsReadyOnTheEnvelope(t *testing.T) {
	var p Protocol = PrimusSession{Primus{Kind: "allspark"}}
	if p.Name() != "allspark" || p.HelloReplies([]string{"bench"}) != 1 {
		t.Fatal(p.Name())
	}
	if p.Replies([]byte(`{"allspark":1,"session":{"id":"a","token":"a.b","restored":false,"recovered":false}}`)) != 1 {
		t.Fatal("the envelope is the hello reply")
	}
	if p.Replies([]byte(`{"allspark":1,"room":"bench","offset":0,"epoch":"e"}`)) != 0 {
		t.Fatal("an announcement is not")
	}
}
