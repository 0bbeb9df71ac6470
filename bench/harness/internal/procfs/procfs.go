package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// ErrFormat reports a /proc file that does not look as expected.
var ErrFormat = errors.New("procfs: unexpected format")

// clockTick is USER_HZ, the unit of utime/stime; 100 on every Linux
// architecture Go supports.
const clockTick = 100

// RSSKB returns VmRSS of pid in KiB.
func RSSKB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return statusField(b, "VmRSS")
}

func statusField(b []byte, name string) (int64, error) {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte(name+":"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			break
		}
		return strconv.ParseInt(string(f[0]), 10, 64)
	}
	return 0, fmt.Errorf("%w: no %s", ErrFormat, name)
}

// Stat is what the benchmark takes from /proc/<pid>/stat.
type Stat struct {
	PPID int
	CPU  time.Duration // utime + stime
}

// ReadStat parses /proc/<pid>/stat.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (Stat, error) {
	// The command name is in parentheses and may contain spaces or ')'; the
	// fields after the last ')' start with state (field 3).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("%w: stat without ')'", ErrFormat)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return Stat{}, fmt.Errorf("%w: stat has %d fields after comm", ErrFormat, len(f))
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	ut, err2 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err3 := strconv.ParseInt(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return Stat{}, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return Stat{PPID: ppid, CPU: time.Duration(ut+st) * time.Second / clockTick}, nil
}

// Tree returns roots and all their living descendants.
func Tree(roots ...int) []int {
	children := map[int][]int{}
	if ents, err := os.ReadDir("/proc"); err == nil {
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			st, err := ReadStat(pid)
			if err != nil {
				continue
			}
			children[st.PPID] = append(children[st.PPID], pid)
		}
	}
	var out []int
	seen := map[int]bool{}
	var walk func(int)
	walk = func(p int) {
		if seen[p] {
			return
		}
		seen[p] = true
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(p))); err != nil {
			return
		}
		out = append(out, p)
		for _, c := range children[p] {
			walk(c)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return out
}

// Sample is the sum over a set of processes at one moment.
type Sample struct {
	Procs int
	RSSKB int64
	CPU   time.Duration
}

// Measure sums RSS and CPU over pids; processes that vanished are skipped.
func Measure(pids []int) Sample {
	var s Sample
	for _, p := range pids {
		rss, err := RSSKB(p)
		if err != nil {
			continue
		}
		st, err := ReadStat(p)
		if err != nil {
			continue
		}
		s.Procs++
		s.RSSKB += rss
		s.CPU += st.CPU
	}
	return s
}
