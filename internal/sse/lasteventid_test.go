package sse_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/allspark/allspark/internal/sse"
)

func TestParseID(t *testing.T) {
	long := strings.Repeat("a", sse.MaxIDLen-2)
	for s, want := range map[string]struct {
		id sse.ID
		ok bool
	}{
		"abc:1":                      {sse.ID{Stream: "abc", Seq: 1}, true},
		"abc:42":                     {sse.ID{Stream: "abc", Seq: 42}, true},
		"a:b:c:9":                    {sse.ID{Stream: "a:b:c", Seq: 9}, true},
		"abc:end":                    {sse.ID{Stream: "abc", End: true}, true},
		"abc:18446744073709551615":   {sse.ID{Stream: "abc", Seq: 1<<64 - 1}, true},
		long + ":1":                  {sse.ID{Stream: long, Seq: 1}, true},
		long + ":12":                 {},
		"abc:18446744073709551616":   {},
		"abc:0":                      {},
		"abc:01":                     {},
		"abc:-1":                     {},
		"abc:+1":                     {},
		"abc:1 ":                     {},
		"abc:":                       {},
		":1":                         {},
		"abc":                        {},
		"":                           {},
		"abc:END":                    {},
		"a\x00c:1":                   {},
		"a\nc:1":                     {},
		"9f86d081884c7d659a2feaa0c5": {},
	} {
		id, ok := sse.ParseID(s)
		if ok != want.ok || id != want.id {
			t.Errorf("ParseID(%.30q) = %+v, %v; want %+v, %v", s, id, ok, want.id, want.ok)
		}
		if ok && id.String() != s {
			t.Errorf("ParseID(%.30q).String() = %q", s, id.String())
		}
	}
}

func TestIDText(t *testing.T) {
	if got := (sse.ID{Stream: "Vt-B_9", Seq: 3}).String(); got != "Vt-B_9:3" {
		t.Errorf("String = %q", got)
	}
	if got := (sse.ID{Stream: "Vt-B_9", End: true}).String(); got != "Vt-B_9:end" {
		t.Errorf("end marker = %q", got)
	}
}

func TestLastEventIDHeaderThenQuery(t *testing.T) {
	for _, c := range []struct {
		header, query string
		want          sse.ID
		ok            bool
	}{
		{"", "", sse.ID{}, false},
		{"s:5", "", sse.ID{Stream: "s", Seq: 5}, true},
		{"", "lastEventId=s:6", sse.ID{Stream: "s", Seq: 6}, true},
		{"", "last_event_id=s:end", sse.ID{Stream: "s", End: true}, true},
		{"", "lastEventId=s:6&last_event_id=t:7", sse.ID{Stream: "s", Seq: 6}, true},
		{"s:5", "lastEventId=t:end", sse.ID{Stream: "s", Seq: 5}, true}, // the header wins
		{"garbage", "lastEventId=t:end", sse.ID{}, false},               // even when it is no id of ours
		{"", "lastEventId=", sse.ID{}, false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/primus/sse?"+c.query, nil)
		if c.header != "" {
			r.Header.Set("Last-Event-ID", c.header)
		}
		got, ok := sse.LastEventID(r)
		if got != c.want || ok != c.ok {
			t.Errorf("header %q query %q: %+v, %v; want %+v, %v", c.header, c.query, got, ok, c.want, c.ok)
		}
	}
}
