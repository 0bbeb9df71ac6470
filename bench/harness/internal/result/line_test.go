package result

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestLineRoundTrip(t *testing.T) {
	var l Line
	l.Str("scenario", "fanout").Str("server", "all spark=x").Int("n", 10000).Float("p99_ms", 1.23456, 2).Float("bad", math.NaN(), 1).Str("empty", "")
	s := l.String()
	want := "RESULT scenario=fanout server=all_spark_x n=10000 p99_ms=1.23 bad=- empty=-"
	if s != want {
		t.Fatalf("String = %q, want %q", s, want)
	}
	p, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	if p.Num("n") != 10000 || p.Num("p99_ms") != 1.23 || !math.IsNaN(p.Num("bad")) || !math.IsNaN(p.Num("missing")) {
		t.Fatalf("parsed %+v", p)
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{"", "RATIO a=b", "RESULT novalue", "RESULT =x"} {
		if _, err := Parse(s); !errors.Is(err, ErrSyntax) {
			t.Fatalf("Parse(%q) err = %v, want ErrSyntax", s, err)
		}
	}
}

func TestRatios(t *testing.T) {
	parse := func(s string) Line {
		l, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	lines := []Line{
		parse("RESULT scenario=fanout server=allspark n=100 dps=300 p99_ms=2"),
		parse("RESULT scenario=fanout server=centrifuge n=100 dps=200 p99_ms=4"),
		parse("RESULT scenario=fanout server=primus n=100 dps=0 p99_ms=8"),
		parse("RESULT scenario=idle server=centrifuge n=10 rss=1"), // no allspark line: skipped
	}
	got := Ratios(lines, "allspark", map[string][]Metric{"fanout": {{"dps", true}, {"p99_ms", false}}, "idle": {{"rss", false}}})
	want := []string{
		"RATIO scenario=fanout n=100 metric=dps better=higher allspark=300.00 allspark/centrifuge=1.50 allspark/primus=-",
		"RATIO scenario=fanout n=100 metric=p99_ms better=lower allspark=2.00 allspark/centrifuge=0.50 allspark/primus=0.25",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Ratios =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMedian(t *testing.T) {
	var lines []Line
	for _, s := range []string{
		"RESULT scenario=fanout server=allspark n=100 dps=300 p99_ms=2.500 round=1",
		"RESULT scenario=fanout server=allspark n=100 dps=100 p99_ms=9.000 round=2 first_err=x",
		"RESULT scenario=fanout server=allspark n=100 dps=200 p99_ms=1.000 round=3",
	} {
		l, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	got := Median(lines).String()
	want := "RESULT scenario=fanout server=allspark n=100 dps=200 p99_ms=2.500 first_err=x"
	if got != want {
		t.Fatalf("Median = %q, want %q", got, want)
	}
	if len(Median(nil).Fields) != 0 {
		t.Fatal("Median(nil) should be empty")
	}
}
