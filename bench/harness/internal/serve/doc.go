// Package serve is what the benchmark's Go servers share: flags for the
// address, SO_REUSEPORT and an optional pprof listener, the READY line the
// harness waits for, and a bounded lifetime so a server never outlives a run.
package serve
