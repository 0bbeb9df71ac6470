package app

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/allspark/allspark"
)

// The --history setting: which rooms keep their last messages, as rules
// PATTERN=SIZE/TTL[/METATTL] (allspark.HistoryRule), comma-separated or
// given as repeated flags. A pattern may not hold a comma; it may hold
// "=", since the last "=" ends it.

// DemoHistory is --history when the demo is on and no source set it: every
// demo room keeps its last 1000 messages for 10 minutes, so a browser that
// reconnects (even to a restarted server, with a Redis broker) gets what
// it missed.
const DemoHistory = "*=1000/10m"

// errHistoryRule marks a rule that does not parse.
var errHistoryRule = errors.New("want PATTERN=SIZE/TTL[/METATTL], such as chat:*=1000/10m")

// listValue is a string flag that a repeated flag appends to, with a
// comma, instead of replacing: --history a=1/1m --history b=2/2m is
// --history a=1/1m,b=2/2m. Between sources (file, environment, flag) the
// later replaces the earlier: load resets the field first (setting.reset).
// Each piece is checked when set, so the error names its source.
type listValue struct {
	p     *string
	check func(string) error
}

func (v listValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v listValue) Set(s string) error {
	if v.check != nil {
		if err := v.check(s); err != nil {
			return err
		}
	}
	if *v.p != "" && s != "" {
		s = *v.p + "," + s
	}
	*v.p = s
	return nil
}

// checkHistory is parseHistory for a listValue.
func checkHistory(s string) error {
	_, err := parseHistory(s)
	return err
}

// parseHistory turns the --history text into rules, in order: the first
// rule whose pattern matches a room gives its policy. Blank entries are
// skipped, so "" keeps no history.
func parseHistory(s string) ([]allspark.HistoryRule, error) {
	var rules []allspark.HistoryRule
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		r, err := parseHistoryRule(entry)
		if err != nil {
			return nil, fmt.Errorf("rule %q: %w", entry, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func parseHistoryRule(entry string) (allspark.HistoryRule, error) {
	i := strings.LastIndex(entry, "=")
	if i <= 0 {
		return allspark.HistoryRule{}, errHistoryRule
	}
	r := allspark.HistoryRule{Pattern: entry[:i]}
	if _, err := path.Match(r.Pattern, ""); err != nil {
		return r, fmt.Errorf("pattern %q: %w", r.Pattern, err)
	}
	parts := strings.Split(entry[i+1:], "/")
	if len(parts) < 2 || len(parts) > 3 {
		return r, errHistoryRule
	}
	size, err := strconv.Atoi(parts[0])
	if err != nil || size < 1 {
		return r, fmt.Errorf("size %q: want a positive number of messages", parts[0])
	}
	r.Size = size
	durations := []*time.Duration{&r.TTL, &r.MetaTTL}
	for j, text := range parts[1:] {
		d, err := time.ParseDuration(text)
		if err != nil || d <= 0 {
			return r, fmt.Errorf("%q: want a positive duration such as 10m", text)
		}
		*durations[j] = d
	}
	if r.MetaTTL != 0 && r.MetaTTL < r.TTL {
		return r, fmt.Errorf("meta TTL %s shorter than the TTL %s: a client away longer than the meta TTL would be told epoch, not truncated", r.MetaTTL, r.TTL)
	}
	return r, nil
}
