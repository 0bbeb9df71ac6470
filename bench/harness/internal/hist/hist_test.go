package hist

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestIndexBoundsAreContiguous(t *testing.T) {
	for i := 0; i < buckets-1; i++ {
		if upper(i)+1 != lower(i+1) {
			t.Fatalf("bucket %d ends at %d, bucket %d starts at %d", i, upper(i), i+1, lower(i+1))
		}
	}
	for _, us := range []uint64{0, 1, 63, 64, 65, 127, 128, 1000, 123456, 1 << 30} {
		i := index(us)
		if us < lower(i) || us > upper(i) {
			t.Fatalf("%d µs mapped to bucket %d [%d, %d]", us, i, lower(i), upper(i))
		}
	}
}

func TestQuantilesMatchSortedSamples(t *testing.T) {
	var h Histogram
	r := rand.New(rand.NewPCG(1, 2))
	var samples []time.Duration
	for range 100000 {
		d := time.Duration(r.ExpFloat64()*2000) * time.Microsecond
		samples = append(samples, d)
		h.Record(d)
	}
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := samples[int(q*float64(len(samples)-1))]
		got := h.Quantile(q)
		diff := float64(got-want) / float64(want)
		if diff < -0.04 || diff > 0.04 {
			t.Fatalf("q%.3f = %v, sorted samples say %v (%.1f%% off)", q, got, want, diff*100)
		}
	}
	if h.Count() != 100000 {
		t.Fatalf("Count = %d", h.Count())
	}
}

func TestSmallValuesAreExact(t *testing.T) {
	var h Histogram
	for _, us := range []int{5, 7, 9} {
		h.Record(time.Duration(us) * time.Microsecond)
	}
	if got := h.Quantile(0.5); got != 7*time.Microsecond {
		t.Fatalf("median = %v, want 7µs", got)
	}
	if got := h.Quantile(1); got != 9*time.Microsecond {
		t.Fatalf("max = %v, want 9µs", got)
	}
}

func TestEmptyAndNegative(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 {
		t.Fatal("empty histogram should report 0")
	}
	h.Record(-time.Second)
	if h.Quantile(0.5) != 0 || h.Count() != 1 {
		t.Fatalf("negative duration: q50=%v count=%d", h.Quantile(0.5), h.Count())
	}
}

func TestBucketsRoundTripAndConcurrency(t *testing.T) {
	var a Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				a.Record(time.Duration(g*1000+i) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	var b Histogram
	b.AddBuckets(a.Buckets())
	b.AddBuckets([][2]uint64{{buckets + 5, 99}}) // ignored
	if a.Count() != 8000 || b.Count() != 8000 {
		t.Fatalf("counts a=%d b=%d", a.Count(), b.Count())
	}
	for _, q := range []float64{0.1, 0.5, 0.99} {
		if a.Quantile(q) != b.Quantile(q) {
			t.Fatalf("q%v differs after the round trip: %v vs %v", q, a.Quantile(q), b.Quantile(q))
		}
	}
}
