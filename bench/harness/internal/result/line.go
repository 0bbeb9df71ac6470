package result

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Prefix starts every result line.
const Prefix = "RESULT"

// ErrSyntax reports a line that is not a result line.
var ErrSyntax = errors.New("result: not a result line")

// Field is one key=value pair.
type Field struct {
	Key   string
	Value string
}

// Line is one measurement: fields in the order they were added.
type Line struct{ Fields []Field }

// Str adds a string field. Spaces and '=' in values become '_' so the line
// stays splittable.
func (l *Line) Str(key, v string) *Line {
	v = strings.Map(func(r rune) rune {
		if r == ' ' || r == '=' || r == '\t' || r == '\n' {
			return '_'
		}
		return r
	}, v)
	if v == "" {
		v = "-"
	}
	l.Fields = append(l.Fields, Field{key, v})
	return l
}

// Int adds an integer field.
func (l *Line) Int(key string, v int64) *Line {
	l.Fields = append(l.Fields, Field{key, strconv.FormatInt(v, 10)})
	return l
}

// Float adds a number with the given decimals; NaN and ±Inf become "-".
func (l *Line) Float(key string, v float64, decimals int) *Line {
	s := "-"
	if !math.IsNaN(v) && !math.IsInf(v, 0) {
		s = strconv.FormatFloat(v, 'f', decimals, 64)
	}
	l.Fields = append(l.Fields, Field{key, s})
	return l
}

// Get returns the value of key and whether it is present.
func (l Line) Get(key string) (string, bool) {
	for _, f := range l.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// Num returns the value of key as a number, or NaN when absent or not numeric.
func (l Line) Num(key string) float64 {
	v, ok := l.Get(key)
	if !ok {
		return math.NaN()
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return math.NaN()
	}
	return f
}

// String formats the line: "RESULT k=v k=v …".
func (l Line) String() string {
	var b strings.Builder
	b.WriteString(Prefix)
	for _, f := range l.Fields {
		b.WriteByte(' ')
		b.WriteString(f.Key)
		b.WriteByte('=')
		b.WriteString(f.Value)
	}
	return b.String()
}

// Parse reads a line produced by String.
func Parse(s string) (Line, error) {
	parts := strings.Fields(s)
	if len(parts) == 0 || parts[0] != Prefix {
		return Line{}, ErrSyntax
	}
	var l Line
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return Line{}, fmt.Errorf("%w: field %q has no key=value", ErrSyntax, p)
		}
		l.Fields = append(l.Fields, Field{k, v})
	}
	return l, nil
}

// Median combines repeated measurements of one step: every numeric field
// becomes the median over the lines that have it (the upper median for an
// even count), other fields are taken from the first line. Fields only some
// lines have are kept from the first line that has them.
func Median(lines []Line) Line {
	var out Line
	if len(lines) == 0 {
		return out
	}
	seen := map[string]bool{}
	for _, l := range lines {
		for _, f := range l.Fields {
			if seen[f.Key] || f.Key == "round" {
				continue
			}
			seen[f.Key] = true
			var nums []float64
			numeric := true
			for _, o := range lines {
				v, ok := o.Get(f.Key)
				if !ok {
					continue
				}
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					numeric = false
					break
				}
				nums = append(nums, x)
			}
			if !numeric {
				out.Fields = append(out.Fields, f)
				continue
			}
			slices.Sort(nums)
			m := nums[len(nums)/2]
			decimals := 0
			if i := strings.IndexByte(f.Value, '.'); i >= 0 {
				decimals = len(f.Value) - i - 1
			}
			out.Float(f.Key, m, decimals)
		}
	}
	return out
}
