// Package reuseport opens TCP listeners with SO_REUSEPORT, so several server
// processes can share one port and the kernel spreads connections over them.
// The benchmark needs it because one process may hold at most 20,000 open
// files on the benchmark machine.
package reuseport
