package procfs

import (
	"math"
	"strings"
	"testing"
)

const slab0 = `slabinfo - version: 2.1
# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>
TCPv6                 26     26   2496   13    8 : tunables    0    0    0 : slabdata      2      2      0
TCP                   77    130   2368   13    8 : tunables    0    0    0 : slabdata     10     10      0
eventpoll_epi        241    448    128   32    1 : tunables    0    0    0 : slabdata     14     14      0
sock_inode_cache     196    247    832   19    4 : tunables    0    0    0 : slabdata     13     13      0
filp                 975   1008    192   21    1 : tunables    0    0    0 : slabdata     48     48      0
dentry            133149 133350    192   21    1 : tunables    0    0    0 : slabdata   6350   6350      0
kmalloc-64          9999   9999     64   64    1 : tunables    0    0    0 : slabdata      2      2      0
`

const sock0 = "sockets: used 28\nTCP: inuse 11 orphan 0 tw 6 alloc 14 mem 5\nUDP: inuse 0 mem 0\n"

func TestKernelDelta(t *testing.T) {
	k0, err := parseKernel([]byte(slab0), []byte(sock0))
	if err != nil {
		t.Fatal(err)
	}
	if k0.Objs["TCP"] != 77 || k0.Bytes["TCP"] != 77*2368 || k0.TCPPages != 5 {
		t.Fatalf("parsed %+v", k0)
	}
	if _, ok := k0.Objs["kmalloc-64"]; ok {
		t.Fatal("kmalloc caches are not counted")
	}
	// 10 connections, both ends on the machine: 20 more socks, inodes,
	// files and dentries, 30 more epoll items, 1 more page of buffers.
	r := strings.NewReplacer(
		"TCP                   77", "TCP                   97",
		"eventpoll_epi        241", "eventpoll_epi        271",
		"sock_inode_cache     196", "sock_inode_cache     216",
		"filp                 975", "filp                 995",
		"dentry            133149", "dentry            133169")
	k1, err := parseKernel([]byte(r.Replace(slab0)), []byte(strings.Replace(sock0, "mem 5", "mem 6", 1)))
	if err != nil {
		t.Fatal(err)
	}
	d := Delta(k0, k1, 10, 4096)
	want := (20*2368 + 30*128 + 20*832 + 20*192 + 20*192 + 4096) / 10.0
	if math.Abs(d.BytesPerConn-want) > 1e-9 {
		t.Fatalf("bytes per conn %.1f, want %.1f", d.BytesPerConn, want)
	}
	if got := d.Summary(); got != "TCP:2.00,sock_inode_cache:2.00,dentry:2.00,filp:2.00,eventpoll_epi:3.00" {
		t.Fatalf("summary %q", got)
	}
}

func TestKernelRejectsSockstatWithoutTCP(t *testing.T) {
	if _, err := parseKernel([]byte(slab0), []byte("sockets: used 1\n")); err == nil {
		t.Fatal("accepted")
	}
}
