package procfs

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Machine is the whole machine's CPU time so far, from the first line of
// /proc/stat: Busy is every state but idle and iowait, Total all of them,
// summed over every CPU. On a shared machine, Busy minus what the measured
// processes used is what everything else took during a measurement.
type Machine struct {
	Busy, Total time.Duration
}

// ReadMachine reads /proc/stat.
func ReadMachine() (Machine, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return Machine{}, err
	}
	return parseMachine(b)
}

func parseMachine(b []byte) (Machine, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return Machine{}, fmt.Errorf("%w: /proc/stat starts %q", ErrFormat, line)
	}
	var m Machine
	// user nice system idle iowait irq softirq steal guest guest_nice; guest
	// time is already inside user and nice.
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return Machine{}, fmt.Errorf("%w: /proc/stat field %d: %v", ErrFormat, i+1, err)
		}
		d := time.Duration(n) * time.Second / clockTick
		m.Total += d
		if i != 3 && i != 4 { // idle, iowait
			m.Busy += d
		}
	}
	return m, nil
}
