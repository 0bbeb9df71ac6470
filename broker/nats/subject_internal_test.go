package nats

import (
	"encoding/base64"
	"strings"
	"testing"
)

// weirdNames are room names that would break a subject if used raw.
var weirdNames = []string{
	"", "a", "a.b", "a.b.c", "*", ">", "a.*", "a.>", "a b", "tab\there", "nul\x00byte",
	"crlf\r\n", "ünïcödé", "😀", "$SYS", ".", "..", "ends.", strings.Repeat("x", maxPlainName),
	strings.Repeat("y", maxPlainName+1), strings.Repeat("long.room.*", 400),
}

func TestNameTokenIsOneSafeToken(t *testing.T) {
	s := newSubjects("allspark")
	seen := map[string]string{}
	for _, name := range weirdNames {
		subj := s.room(name)
		tok, ok := strings.CutPrefix(subj, "allspark.r.")
		if !ok {
			t.Fatalf("room(%q) = %q: want the allspark.r. prefix", name, subj)
		}
		if tok == "" {
			t.Fatalf("room(%q): empty token", name)
		}
		for i := 0; i < len(tok); i++ {
			if !strings.ContainsRune(b64url, rune(tok[i])) {
				t.Fatalf("room(%q) = %q: byte %q outside [A-Za-z0-9_-]", name, subj, tok[i])
			}
		}
		if len(tok) > 1+(maxPlainName*8+5)/6 {
			t.Fatalf("room(%q): token of %d bytes", name, len(tok))
		}
		if prev, dup := seen[tok]; dup {
			t.Fatalf("rooms %q and %q share token %q", prev, name, tok)
		}
		seen[tok] = name
	}
}

func TestNameTokenMatchesBase64URL(t *testing.T) {
	for _, name := range weirdNames {
		if len(name) > maxPlainName {
			continue
		}
		want := "b" + base64.RawURLEncoding.EncodeToString([]byte(name))
		if got := newSubjects("p").node(name); got != "p.n."+want {
			t.Fatalf("node(%q) = %q, want p.n.%s", name, got, want)
		}
	}
}

func TestLongNamesAreHashed(t *testing.T) {
	s := newSubjects("p")
	a, b := strings.Repeat("a", 5000), strings.Repeat("a", 4999)+"b"
	ta, tb := s.room(a), s.room(b)
	if ta == tb {
		t.Fatal("two long names share a subject")
	}
	if !strings.HasPrefix(ta, "p.r.h") || len(ta) != len("p.r.")+44 {
		t.Fatalf("long name subject %q: want p.r.h + 43 base64 bytes", ta)
	}
}

func TestSubjectAllocations(t *testing.T) {
	s := newSubjects("allspark")
	allocs := testing.AllocsPerRun(100, func() { _ = s.room("chat.room.42") })
	if allocs > 1 {
		t.Fatalf("room subject: %v allocations, want 1", allocs)
	}
}
