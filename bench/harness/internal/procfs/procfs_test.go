package procfs

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	// comm with a space and a ')' inside, as the kernel allows.
	line := []byte("1234 (we ird) name) S 77 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 5 1000 10\n")
	st, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != 77 || st.CPU != 3*time.Second {
		t.Fatalf("got %+v, want ppid 77 and 3s CPU", st)
	}
	if _, err := parseStat([]byte("1 (x) S 1")); !errors.Is(err, ErrFormat) {
		t.Fatalf("short stat: err = %v", err)
	}
}

func TestStatusField(t *testing.T) {
	b := []byte("Name:\tx\nVmHWM:\t  900 kB\nVmRSS:\t   812 kB\n")
	if v, err := statusField(b, "VmRSS"); err != nil || v != 812 {
		t.Fatalf("VmRSS = %d, %v", v, err)
	}
	if _, err := statusField(b, "VmSwap"); !errors.Is(err, ErrFormat) {
		t.Fatalf("missing field: err = %v", err)
	}
}

func TestSelfAndTree(t *testing.T) {
	rss, err := RSSKB(os.Getpid())
	if err != nil || rss <= 0 {
		t.Fatalf("own RSS = %d, %v", rss, err)
	}
	cmd := exec.Command("sleep", "5")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep binary:", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	tree := Tree(os.Getpid())
	if !slices.Contains(tree, cmd.Process.Pid) || tree[0] != os.Getpid() {
		t.Fatalf("tree %v lacks child %d", tree, cmd.Process.Pid)
	}
	s := Measure([]int{os.Getpid(), cmd.Process.Pid, 1 << 30})
	if s.Procs != 2 || s.RSSKB < rss {
		t.Fatalf("Measure = %+v", s)
	}
}

func TestParseMachine(t *testing.T) {
	b := []byte("cpu  100 5 50 800 20 1 4 10 7 0\ncpu0 1 2 3 4 5 6 7 8 9 0\n")
	m, err := parseMachine(b)
	if err != nil {
		t.Fatal(err)
	}
	// busy = user+nice+system+irq+softirq+steal = 170 ticks; total adds idle
	// and iowait; guest (inside user) is not counted twice.
	if m.Busy != 1700*time.Millisecond || m.Total != 9900*time.Millisecond {
		t.Fatalf("got %+v", m)
	}
	if _, err := parseMachine([]byte("intr 1 2 3\n")); !errors.Is(err, ErrFormat) {
		t.Fatalf("err = %v", err)
	}
	if m, err := ReadMachine(); err != nil || m.Total <= 0 || m.Busy > m.Total {
		t.Fatalf("this machine: %+v, %v", m, err)
	}
}
