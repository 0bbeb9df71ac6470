// Package hist is a concurrent latency histogram with log-linear buckets
// (exact below 64 µs, then 32 buckets per power of two: at most ~3 % error),
// small enough to record every delivery of a run without keeping samples, and
// mergeable across load-generator processes.
package hist
