// Package redisinfo reads what the cluster benchmark needs from a Redis
// server it started itself: PING for readiness and INFO for the counters
// that say what the broker cost per publication (commands, socket reads and
// writes, bytes). It speaks just enough RESP for those two commands, so the
// harness needs no Redis client library, and bounds every reply it reads.
package redisinfo
