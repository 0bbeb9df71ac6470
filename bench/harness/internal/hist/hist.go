package hist

import (
	"math/bits"
	"sync/atomic"
	"time"
)

const (
	linear  = 64 // values below this (µs) get their own bucket
	sub     = 32 // buckets per power of two above that
	maxExp  = 40 // up to 2^45 µs, far beyond any run
	buckets = linear + maxExp*sub
)

// Histogram counts durations at microsecond resolution. The zero value is
// ready; all methods are safe for concurrent use.
type Histogram struct {
	counts [buckets]atomic.Uint64
	total  atomic.Uint64
}

// index maps a value in µs to its bucket.
func index(us uint64) int {
	if us < linear {
		return int(us)
	}
	e := bits.Len64(us) - 6 // us>>e is in [32, 63]
	i := linear + (e-1)*sub + int(us>>e) - sub
	if i >= buckets {
		return buckets - 1
	}
	return i
}

// lower returns the smallest value in µs that falls in bucket i.
func lower(i int) uint64 {
	if i < linear {
		return uint64(i)
	}
	e := (i-linear)/sub + 1
	return uint64((i-linear)%sub+sub) << e
}

// upper returns the largest value in µs that falls in bucket i.
func upper(i int) uint64 {
	if i < linear {
		return uint64(i)
	}
	e := (i-linear)/sub + 1
	return lower(i) + (1 << e) - 1
}

// Record adds one duration; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.counts[index(uint64(us))].Add(1)
	h.total.Add(1)
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Quantile returns the value at quantile q in [0, 1] as the middle of its
// bucket (exact below 64 µs), or 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	if q < 0 {
		q = 0
	}
	if q > 1 {
		q = 1
	}
	rank := uint64(q*float64(n-1)) + 1 // 1-based rank of the wanted value
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			mid := (lower(i) + upper(i)) / 2
			return time.Duration(mid) * time.Microsecond
		}
	}
	return time.Duration(upper(buckets-1)) * time.Microsecond
}

// Buckets returns the non-empty buckets as (index, count) pairs, for sending
// a histogram to another process.
func (h *Histogram) Buckets() [][2]uint64 {
	var out [][2]uint64
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			out = append(out, [2]uint64{uint64(i), c})
		}
	}
	return out
}

// AddBuckets merges pairs produced by Buckets; pairs with an index out of
// range are ignored.
func (h *Histogram) AddBuckets(b [][2]uint64) {
	for _, p := range b {
		if p[0] >= buckets {
			continue
		}
		h.counts[p[0]].Add(p[1])
		h.total.Add(p[1])
	}
}
