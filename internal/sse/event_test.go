package sse_test

import (
	"strings"
	"testing"
	"time"

	"github.com/allspark/allspark/internal/sse"
)

func TestAppendEventExactBytes(t *testing.T) {
	for _, c := range []struct {
		name, data, want string
	}{
		{"", `{"a":1}`, "data: {\"a\":1}\n\n"},
		{"chat", `"hi"`, "event: chat\ndata: \"hi\"\n\n"},
		{"", "", "data: \n\n"},
		{"", "a\nb", "data: a\ndata: b\n\n"},
		{"", "a\r\nb", "data: a\ndata: b\n\n"},
		{"", "a\rb", "data: a\ndata: b\n\n"},
		{"", "a\r\rb", "data: a\ndata: \ndata: b\n\n"},
		{"", "a\n", "data: a\ndata: \n\n"},
		{"", " lead", "data:  lead\n\n"},
		{"x", "\r\n", "event: x\ndata: \ndata: \n\n"},
	} {
		if got := string(sse.AppendEvent(nil, c.name, []byte(c.data))); got != c.want {
			t.Errorf("AppendEvent(%q, %q) = %q, want %q", c.name, c.data, got, c.want)
		}
	}
}

// TestMultiLineDataArrivesWhole: what a client makes of the split lines is
// the payload, with every line break as LF.
func TestMultiLineDataArrivesWhole(t *testing.T) {
	for data, want := range map[string]string{
		"{\n  \"a\": 1\n}": "{\n  \"a\": 1\n}",
		"x\r\ny\rz\n":      "x\ny\nz\n",
		"":                 "",
	} {
		evs, _ := parseStream(sse.AppendEvent(nil, "", []byte(data)))
		if len(evs) != 1 || evs[0].Data != want {
			t.Errorf("data %q arrives as %+v, want one event with %q", data, evs, want)
		}
	}
}

func TestFieldsExactBytes(t *testing.T) {
	if got := string(sse.AppendID(nil, "s:7")); got != "id: s:7\n" {
		t.Errorf("AppendID = %q", got)
	}
	if got := string(sse.AppendRetry(nil, 2500*time.Millisecond)); got != "retry: 2500\n" {
		t.Errorf("AppendRetry = %q", got)
	}
	if got := string(sse.AppendComment(nil, "")); got != ":\n" {
		t.Errorf("AppendComment = %q", got)
	}
	p := string(sse.AppendPrelude(nil))
	if p != ":"+strings.Repeat(" ", 2048)+"\n" {
		t.Errorf("prelude is %d bytes, want a comment of 2048 spaces", len(p))
	}
	if evs, _ := parseStream([]byte(p)); len(evs) != 0 {
		t.Errorf("prelude dispatches %v", evs)
	}
}

func TestValidNameAndID(t *testing.T) {
	for s, want := range map[string]bool{"chat": true, "a b": true, "a\nb": false, "a\rb": false, "nul\x00": true} {
		if got := sse.ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{"s:1": true, "a\nb": false, "a\rb": false, "nul\x00": false} {
		if got := sse.ValidID(s); got != want {
			t.Errorf("ValidID(%q) = %v", s, got)
		}
	}
}
