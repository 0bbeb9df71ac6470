package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/allspark/allspark/bench/harness/internal/load"
	"github.com/allspark/allspark/bench/harness/internal/result"
)

// tableColumns are the columns of each scenario's Markdown table: a header
// and the result key it shows.
var tableColumns = map[string][][2]string{
	"idle":        {{"server", "server"}, {"N", "n"}, {"server procs", "server_procs"}, {"alive", "alive"}, {"connects/s", "connects_per_s"}, {"RSS MB", "rss_mb"}, {"KB/conn", "kb_per_conn"}, {"kernel KB/conn (both ends)", "kernel_kb_per_conn"}},
	"echo":        {{"server", "server"}, {"N", "n"}, {"msgs/s", "msgs_per_s"}, {"p50 ms", "p50_ms"}, {"p99 ms", "p99_ms"}, {"p99.9 ms", "p999_ms"}, {"server CPU %", "cpu_pct"}, {"RSS MB", "rss_mb"}},
	"fanout":      {{"server", "server"}, {"N", "n"}, {"deliveries/s", "deliveries_per_s"}, {"per CPU-s", "deliveries_per_cpu_s"}, {"p50 ms", "p50_ms"}, {"p99 ms", "p99_ms"}, {"stalls", "stalls"}, {"server CPU %", "cpu_pct"}, {"RSS MB", "rss_mb"}},
	"poll-fanout": {{"server", "server"}, {"N", "n"}, {"rooms", "rooms"}, {"offered/s", "offered_per_s"}, {"deliveries/s", "deliveries_per_s"}, {"p50 ms", "p50_ms"}, {"p99 ms", "p99_ms"}, {"polls/s", "polls_per_s"}, {"send errors", "errors"}, {"server CPU %", "cpu_pct"}, {"load CPU %", "load_cpu_pct"}, {"RSS MB", "rss_mb"}},
	"storm":       {{"server", "server"}, {"N", "n"}, {"deliveries/s", "deliveries_per_s"}, {"per CPU-s", "deliveries_per_cpu_s"}, {"p50 ms", "p50_ms"}, {"p99 ms", "p99_ms"}, {"stalls", "stalls"}, {"server CPU %", "cpu_pct"}, {"RSS MB", "rss_mb"}},
	"cluster": {{"server", "server"}, {"N", "n"}, {"nodes", "procs"}, {"broker", "broker"}, {"publishers", "publishers"}, {"deliveries/s", "deliveries_per_s"}, {"per CPU-s", "deliveries_per_cpu_s"}, {"per publication", "deliveries_per_pub"},
		{"p50 ms", "p50_ms"}, {"p99 ms", "p99_ms"}, {"stalls", "stalls"}, {"server CPU %", "cpu_pct"}, {"RSS MB", "rss_mb"},
		{"broker CPU %", "broker_cpu_pct"}, {"broker CPU ms / 1k pub", "broker_cpu_ms_per_1k_pub"}, {"broker cmds / pub", "broker_cmds_per_pub"}, {"broker reads / pub", "broker_reads_per_pub"}, {"commands", "broker_cmds"}, {"load CPU %", "load_cpu_pct"}, {"machine CPU %", "machine_cpu_pct"}},
	historyFanout: {{"broker", "broker"}, {"history", "history"}, {"N", "n"}, {"deliveries/s", "deliveries_per_s"}, {"stamped", "stamped"}, {"per CPU-s", "deliveries_per_cpu_s"}, {"p50 ms", "p50_ms"}, {"p99 ms", "p99_ms"}, {"stalls", "stalls"},
		{"server CPU %", "cpu_pct"}, {"RSS MB", "rss_mb"}, {"Redis CPU %", "broker_cpu_pct"}, {"Redis cmds / pub", "broker_cmds_per_pub"}, {"Redis cmds/s", "broker_cmds_per_s"}, {"commands", "broker_cmds"}, {"machine CPU %", "machine_cpu_pct"}},
	load.Reconnect: {{"signal", "signal"}, {"N", "n"}, {"rooms", "rooms"}, {"stop s", "stop_s"}, {"down s", "down_s"}, {"all back s", "all_back_s"}, {"all recovered s", "all_recovered_s"}, {"recovered p50 ms", "recovered_p50_ms"}, {"p99 ms", "recovered_p99_ms"},
		{"caught up", "caught_up"}, {"not recovered", "not_recovered"}, {"reasons", "reasons"}, {"replayed / member", "replayed_per_member"}, {"gaps", "gaps"}, {"dups", "duplicates"}, {"connects/s", "connects_per_s"},
		{"server CPU %", "cpu_pct"}, {"RSS MB", "rss_mb"}, {"Redis CPU %", "broker_cpu_pct"}, {"Redis cmds/s", "broker_cmds_per_s"}, {"cmds / member", "broker_cmds_per_member"}, {"commands / member", "broker_cmds_top"}, {"machine CPU %", "machine_cpu_pct"}},
	"sse-fanout": {{"server", "server"}, {"N", "n"}, {"connects/s", "connects_per_s"}, {"KB/conn idle", "kb_per_conn"}, {"deliveries/s", "deliveries_per_s"}, {"p50 ms", "p50_ms"}, {"p99 ms", "p99_ms"}, {"stalls", "stalls"}, {"server CPU %", "cpu_pct"}, {"RSS MB", "rss_mb"}},
}

// printTables renders the RESULT lines in path as Markdown tables, one per
// scenario, in the order the scenarios first appear.
func printTables(path string, w io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var order []string
	byScenario := map[string][]result.Line{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l, err := result.Parse(sc.Text())
		if err != nil {
			continue // RATIO lines and anything else
		}
		if r, ok := l.Get("round"); ok && r != "median" {
			continue // single rounds of a repeated measurement: the median stands for them
		}
		s, _ := l.Get("scenario")
		if _, ok := byScenario[s]; !ok {
			order = append(order, s)
		}
		byScenario[s] = append(byScenario[s], l)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	for _, s := range order {
		cols, ok := tableColumns[s]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "\n%s\n\n|", s)
		for _, c := range cols {
			fmt.Fprintf(w, " %s |", c[0])
		}
		fmt.Fprint(w, "\n|")
		fmt.Fprint(w, strings.Repeat("---|", len(cols)))
		fmt.Fprintln(w)
		for _, l := range byScenario[s] {
			fmt.Fprint(w, "|")
			for _, c := range cols {
				v, _ := l.Get(c[1])
				if e, bad := l.Get("error"); bad && c[1] == "server" {
					v += " (" + e + ")"
				}
				fmt.Fprintf(w, " %s |", v)
			}
			fmt.Fprintln(w)
		}
	}
	return nil
}
