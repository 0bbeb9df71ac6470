// Package procfs reads the server figures the benchmark reports straight from
// /proc (Linux): resident memory (VmRSS) and CPU time (utime+stime) of a
// process and all its descendants, so a server made of several processes
// (SO_REUSEPORT siblings, a Node cluster) is measured whole.
package procfs
