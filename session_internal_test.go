package allspark

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/transport"
)

// A client that opens sessions in a loop cannot grow the memory store past
// its bound: the oldest go first.
func TestMemorySessionsBounded(t *testing.T) {
	m := newMemorySessions(100)
	ctx := context.Background()
	for i := range 10_000 {
		if err := m.SaveSession(ctx, fmt.Sprint(i), make([]byte, 100), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.len(); n != 100 {
		t.Fatalf("%d records kept, want 100", n)
	}
	if len(m.order) > 2*100+64+1 {
		t.Fatalf("order list of %d", len(m.order))
	}
	if _, err := m.TakeSession(ctx, "0"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("oldest record still there: %v", err)
	}
	if _, err := m.TakeSession(ctx, "9999"); err != nil {
		t.Fatalf("newest record: %v", err)
	}
	if _, err := m.TakeSession(ctx, "9999"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("a record taken twice: %v", err)
	}
}

func TestMemorySessionsExpire(t *testing.T) {
	m := newMemorySessions(10)
	now := time.Unix(1000, 0)
	m.now = func() time.Time { return now }
	ctx := context.Background()
	_ = m.SaveSession(ctx, "a", []byte("x"), time.Second)
	now = now.Add(2 * time.Second)
	if _, err := m.TakeSession(ctx, "a"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("expired record taken: %v", err)
	}
}

// A wrong secret for a known id puts the record back: knowing an id is not
// enough to destroy its session.
func TestTakeSessionWrongSecretKeepsRecord(t *testing.T) {
	srv, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background(), ShutdownOptions{})
	ss := newSparkSession("id1", wireEnvelope)
	rec := &sessionRecord{ID: "id1", Secret: ss.secret, Expires: time.Now().Add(time.Minute).UnixMilli()}
	sp := &Spark{id: "id1", server: srv}
	srv.writeRecord(sp, rec)
	if _, err := srv.takeSession(context.Background(), "id1.AAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, errBadToken) {
		t.Fatalf("wrong secret: %v", err)
	}
	got, err := srv.takeSession(context.Background(), ss.token)
	if err != nil || got.ID != "id1" {
		t.Fatalf("right token after a wrong one: %v %v", got, err)
	}
	for _, bad := range []string{"", "id1", "id1.", "x.short", ".AAAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := srv.takeSession(context.Background(), bad); err == nil {
			t.Fatalf("token %q accepted", bad)
		}
	}
}

func TestParseSinceBounds(t *testing.T) {
	// Offset 0 is a room with no message yet: its epoch still counts.
	if got := parseSince(`{"a":[3,"E"],"b":[0,"E"],"c":[1,""],"":[1,"E"]}`); len(got) != 2 || got["a"] != (Position{3, "E"}) || got["b"] != (Position{0, "E"}) {
		t.Fatalf("since: %v", got)
	}
	big := "{"
	for i := range maxSinceRooms + 1 {
		if i > 0 {
			big += ","
		}
		big += fmt.Sprintf(`"r%d":[1,"E"]`, i)
	}
	if got := parseSince(big + "}"); got != nil {
		t.Fatalf("%d rooms accepted", len(got))
	}
	for _, bad := range []string{`[]`, `{"a":1}`, `{"a":["x","E"]}`, `{"a":[1.5,"E"]}`, `{"a":[-1,"E"]}`} {
		if got := parseSince(bad); len(got) != 0 {
			t.Fatalf("%s parsed as %v", bad, got)
		}
	}
}

func FuzzParseSince(f *testing.F) {
	f.Add(`{"chat:1":[3,"AbCdEfGh"]}`)
	f.Add(`{"a":[18446744073709551615,"E"]}`)
	f.Fuzz(func(t *testing.T, s string) {
		for room, p := range parseSince(s) {
			if !validRoom(room) || p.Epoch == "" {
				t.Fatalf("kept %q %+v", room, p)
			}
		}
	})
}

func FuzzParseVector(f *testing.F) {
	var v positionVector
	v.tag = vectorTag("tok.AAAAAAAAAAAAAAAAAAAAAA")
	f.Add(v.String(), "tok.AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("x.e30", "t")
	f.Fuzz(func(t *testing.T, text, token string) {
		got := parseVector(text, token)
		if len(got) > maxSinceRooms {
			t.Fatalf("%d rooms", len(got))
		}
	})
}

func TestPositionVectorRoundTrip(t *testing.T) {
	token := "id.AAAAAAAAAAAAAAAAAAAAAA"
	v := positionVector{tag: vectorTag(token)}
	for i := range maxSinceRooms + 5 {
		v.move(&transport.Stamp{Room: fmt.Sprintf("\x00/ns\x00r%d", i), Offset: uint64(i + 1), Epoch: "E"})
	}
	got := parseVector(v.String(), token)
	if len(got) != maxSinceRooms || got["\x00/ns\x00r0"] != (Position{}) || got[fmt.Sprintf("\x00/ns\x00r%d", maxSinceRooms+4)].Offset != maxSinceRooms+5 {
		t.Fatalf("vector: %d rooms %v", len(got), got)
	}
	if parseVector(v.String(), "other.AAAAAAAAAAAAAAAAAAAAAA") != nil {
		t.Fatal("a vector of another session was trusted")
	}
}
