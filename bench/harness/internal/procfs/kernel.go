package procfs

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// KernelSlabs are the /proc/slabinfo caches a TCP socket held by a process
// adds to: its sock (TCP, or TCPv6 for a dual-stack socket), its socket
// inode (sock_inode_cache), the pseudo file's dentry and struct file
// (filp), and one eventpoll_epi per epoll set it is in (the Go runtime's
// netpoller; a second one for an event-driven server's own epoll), with
// eventpoll_pwq and skbuffs for completeness (an idle socket should have
// no queued skbs). The general kmalloc-* caches are left out: everything
// on the machine shares them, so their deltas are mostly noise.
var KernelSlabs = []string{"TCP", "TCPv6", "sock_inode_cache", "dentry", "filp", "eventpoll_epi", "eventpoll_pwq", "skbuff_head_cache", "skbuff_small_head"}

// Kernel is what the kernel holds, machine-wide, for the counted caches:
// objects in use and their bytes, and TCP buffer memory (the "mem" pages of
// /proc/net/sockstat).
type Kernel struct {
	Objs     map[string]int64 // active objects per slab cache
	Bytes    map[string]int64 // active objects × object size
	TCPPages int64
}

// ReadKernel reads /proc/slabinfo (root only) and /proc/net/sockstat.
func ReadKernel() (Kernel, error) {
	si, err := os.ReadFile("/proc/slabinfo")
	if err != nil {
		return Kernel{}, err
	}
	ss, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return Kernel{}, err
	}
	return parseKernel(si, ss)
}

func parseKernel(slabinfo, sockstat []byte) (Kernel, error) {
	k := Kernel{Objs: map[string]int64{}, Bytes: map[string]int64{}}
	want := map[string]bool{}
	for _, s := range KernelSlabs {
		want[s] = true
	}
	for line := range bytes.SplitSeq(slabinfo, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) < 4 || !want[f[0]] {
			continue
		}
		active, err1 := strconv.ParseInt(f[1], 10, 64)
		size, err2 := strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil {
			return k, fmt.Errorf("%w: slabinfo line %q", ErrFormat, line)
		}
		k.Objs[f[0]] = active
		k.Bytes[f[0]] = active * size
	}
	found := false
	for line := range bytes.SplitSeq(sockstat, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("TCP:"))
		if !ok {
			continue
		}
		f := strings.Fields(string(rest))
		for i := 0; i+1 < len(f); i += 2 {
			if f[i] == "mem" {
				n, err := strconv.ParseInt(f[i+1], 10, 64)
				if err != nil {
					return k, fmt.Errorf("%w: sockstat %q", ErrFormat, line)
				}
				k.TCPPages, found = n, true
			}
		}
	}
	if !found {
		return k, fmt.Errorf("%w: no TCP mem in sockstat", ErrFormat)
	}
	return k, nil
}

// KernelDelta is after minus before divided by n (connections): bytes in
// the counted caches plus TCP buffer pages, and objects per cache.
type KernelDelta struct {
	BytesPerConn float64
	ObjsPerConn  map[string]float64
}

// Delta computes what each of n connections added between k0 and k1.
func Delta(k0, k1 Kernel, n, pageSize int) KernelDelta {
	d := KernelDelta{ObjsPerConn: map[string]float64{}}
	if n <= 0 {
		return d
	}
	var b int64
	for _, s := range KernelSlabs {
		b += k1.Bytes[s] - k0.Bytes[s]
		if o := k1.Objs[s] - k0.Objs[s]; o != 0 || k1.Objs[s] != 0 {
			d.ObjsPerConn[s] = float64(o) / float64(n)
		}
	}
	b += (k1.TCPPages - k0.TCPPages) * int64(pageSize)
	d.BytesPerConn = float64(b) / float64(n)
	return d
}

// Summary renders the objects per connection as "TCP:2.00,filp:2.01,…"
// in KernelSlabs order, caches that did not move left out.
func (d KernelDelta) Summary() string {
	var parts []string
	for _, s := range KernelSlabs {
		if v, ok := d.ObjsPerConn[s]; ok && (v >= 0.005 || v <= -0.005) {
			parts = append(parts, fmt.Sprintf("%s:%.2f", s, v))
		}
	}
	return strings.Join(parts, ",")
}
