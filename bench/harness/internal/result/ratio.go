package result

import (
	"fmt"
	"math"
	"strings"
)

// Metric names one figure of a scenario to compare across servers, and
// whether a higher value is better (the ratio is always ours/theirs; the
// direction tells the reader which way is good).
type Metric struct {
	Key          string
	HigherBetter bool
}

// Ratios returns, for each scenario+n seen in lines, one line per metric:
// "RATIO scenario=… n=… metric=… allspark=… <peer>=… allspark/<peer>=…",
// comparing the line whose server is ours with each other server's line.
func Ratios(lines []Line, ours string, metrics map[string][]Metric) []string {
	type key struct{ scenario, n string }
	groups := map[key][]Line{}
	var order []key
	for _, l := range lines {
		sc, _ := l.Get("scenario")
		n, _ := l.Get("n")
		k := key{sc, n}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], l)
	}
	var out []string
	for _, k := range order {
		g := groups[k]
		var mine *Line
		for i := range g {
			if s, _ := g[i].Get("server"); s == ours {
				mine = &g[i]
			}
		}
		if mine == nil {
			continue
		}
		for _, m := range metrics[k.scenario] {
			var b strings.Builder
			fmt.Fprintf(&b, "RATIO scenario=%s n=%s metric=%s better=%s %s=%s", k.scenario, k.n, m.Key, direction(m.HigherBetter), ours, format(mine.Num(m.Key)))
			for _, l := range g {
				s, _ := l.Get("server")
				if s == ours {
					continue
				}
				fmt.Fprintf(&b, " %s/%s=%s", ours, s, format(mine.Num(m.Key)/l.Num(m.Key)))
			}
			out = append(out, b.String())
		}
	}
	return out
}

func direction(higher bool) string {
	if higher {
		return "higher"
	}
	return "lower"
}

func format(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}
