package sockjs_test

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/quick"
	"unicode/utf8"

	"github.com/allspark/allspark/internal/sockjs"
)

// TestQuoteEscapesAsTheReference: sockjs-node's utils.quote output for
// each class of character (JSON.stringify's escapes, then \u escapes for
// the ranges it lists, astral characters as surrogate pairs, lower-case
// hex).
func TestQuoteEscapesAsTheReference(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", `""`},
		{"hello", `"hello"`},
		{`say "hi" \o/`, `"say \"hi\" \\o/"`},
		{"a\nb\rc\td\be\ff", `"a\nb\rc\td\be\ff"`},
		{"\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"\x7f<>&/", "\"\x7f<>&/\""},
		{"é漢字", `"é漢字"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
		{"\u200b\u200c\u200f\u2010", "\"\u200b\\u200c\\u200f\u2010\""},
		{"\u2060\u206f\u2070", "\"\\u2060\\u206f\u2070\""},
		{"\uffef\ufff0\uffff", "\"\uffef\\ufff0\\uffff\""},
		{"😀", `"\ud83d\ude00"`},
		{"\U0010ffff", `"\udbff\udfff"`},
		{"a\xffb", `"a\ufffdb"`},
	} {
		got := string(sockjs.AppendQuote(nil, []byte(c.in)))
		if got != c.want {
			t.Errorf("quote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// TestQuoteRoundTrips: for any valid UTF-8 text, the quoted form is JSON
// that decodes to the text, with no astral character left unescaped, and
// QuotedLen predicts its length.
func TestQuoteRoundTrips(t *testing.T) {
	f := func(s string) bool {
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "\ufffd")
		}
		q := sockjs.AppendQuote(nil, []byte(s))
		var back string
		if err := json.Unmarshal(q, &back); err != nil || back != s {
			return false
		}
		for _, r := range string(q) {
			if r >= 0x10000 || r == '\u2028' || r == '\u2029' {
				return false
			}
		}
		return sockjs.QuotedLen([]byte(s)) == len(q)
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 5000}); err != nil {
		t.Fatal(err)
	}
}

func TestCloseFrameFormat(t *testing.T) {
	if got := string(sockjs.AppendClose(nil, 2010, "Another connection still open")); got != `c[2010,"Another connection still open"]` {
		t.Fatalf("close frame = %s", got)
	}
}
