package mmaplog

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestBucketEdges: every value lands in a bucket whose range holds it,
// buckets are contiguous and ordered, and the top of a bucket is at most
// 1/16 above its bottom.
func TestBucketEdges(t *testing.T) {
	prevTop := uint64(0)
	for b := 0; b < numBuckets-1; b++ {
		top := bucketTop(b)
		if top <= prevTop {
			t.Fatalf("bucket %d top %d not above bucket %d top %d", b, top, b-1, prevTop)
		}
		lo := prevTop + 1 // smallest value in b
		if b > 0 && bucketOf(lo-1) != b {
			t.Fatalf("value %d: bucket %d, want %d", lo, bucketOf(lo-1), b)
		}
		if bucketOf(top-1) != b {
			t.Fatalf("value %d (top of %d): bucket %d", top, b, bucketOf(top-1))
		}
		if lo >= subBuckets && float64(top-lo+1) > float64(lo)/subBuckets {
			t.Fatalf("bucket %d = [%d, %d] wider than 1/16 of its bottom", b, lo, top)
		}
		prevTop = top
	}
	if got := bucketOf(math.MaxUint64); got != numBuckets-1 {
		t.Fatalf("bucketOf(max) = %d", got)
	}
}

// TestTickConversion: exported latency bounds (1 µs·2^k) are exact ticks
// and convert back exactly, and conversion is monotonic around them.
func TestTickConversion(t *testing.T) {
	for k := range latencyBuckets {
		ns := uint64(1000) << k
		if got := nsToTicks(ns); got != 1024<<k {
			t.Fatalf("nsToTicks(%d) = %d, want %d", ns, got, 1024<<k)
		}
		if got := ticksToNS(1024 << k); got != ns {
			t.Fatalf("ticksToNS(%d) = %d, want %d", 1024<<k, got, ns)
		}
		if nsToTicks(ns+1) <= 1024<<k {
			t.Fatalf("nsToTicks(%d) = %d, not above the bound", ns+1, nsToTicks(ns+1))
		}
	}
}

// TestHistPercentiles compares a hist with exact nearest-rank statistics
// over random data of several shapes.
func TestHistPercentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	shapes := map[string]func() uint64{
		"small":     func() uint64 { return rng.Uint64N(20) },
		"uniform":   func() uint64 { return rng.Uint64N(1 << 20) },
		"lognormal": func() uint64 { return uint64(math.Exp(rng.NormFloat64()*2 + 10)) },
		"constant":  func() uint64 { return 4096 },
	}
	for name, gen := range shapes {
		t.Run(name, func(t *testing.T) {
			var h hist
			vals := make([]uint64, 5000)
			for i := range vals {
				vals[i] = gen()
				h.observeSize(vals[i])
			}
			slices.Sort(vals)
			d := h.sizes()
			if d.Count != uint64(len(vals)) || d.Max != vals[len(vals)-1] {
				t.Fatalf("count %d max %d, want %d %d", d.Count, d.Max, len(vals), vals[len(vals)-1])
			}
			var sum uint64
			for _, v := range vals {
				sum += v
			}
			if d.Sum != sum {
				t.Fatalf("sum %d, want %d", d.Sum, sum)
			}
			for _, c := range []struct {
				q   float64
				got uint64
			}{{0.5, d.P50}, {0.9, d.P90}, {0.99, d.P99}} {
				want := vals[int(math.Ceil(c.q*float64(len(vals))))-1]
				if c.got < want || float64(c.got) > float64(want)*(1+1.0/subBuckets)+1 {
					t.Errorf("p%g = %d, exact %d", c.q*100, c.got, want)
				}
			}
			for _, b := range d.Buckets {
				n, _ := slices.BinarySearch(vals, b.Le+1) // values <= Le
				if b.Count != uint64(n) {
					t.Fatalf("bucket le=%d: %d, want %d", b.Le, b.Count, n)
				}
			}
		})
	}
}

// TestHistLatency: durations convert to and from ticks, and buckets count
// durations <= their bound exactly, including one right on a bound.
func TestHistLatency(t *testing.T) {
	var h hist
	in := []time.Duration{-5, 0, time.Microsecond, time.Microsecond + 1, 1500 * time.Microsecond, 3 * time.Second, 100 * time.Hour}
	for _, d := range in {
		h.observeDuration(d)
	}
	l := h.latency()
	if l.Count != uint64(len(in)) || l.Max != 100*time.Hour {
		t.Fatalf("count %d max %v", l.Count, l.Max)
	}
	if len(l.Buckets) != latencyBuckets || l.Buckets[0].Le != time.Microsecond || l.Buckets[latencyBuckets-1].Le != time.Duration(1000<<(latencyBuckets-1)) {
		t.Fatalf("bounds %v .. %v", l.Buckets[0].Le, l.Buckets[len(l.Buckets)-1].Le)
	}
	for _, b := range l.Buckets {
		var want uint64
		for _, d := range in {
			if max(d, 0) <= b.Le {
				want++
			}
		}
		if b.Count != want {
			t.Errorf("le=%v: %d, want %d", b.Le, b.Count, want)
		}
	}
	if p := time.Microsecond + 1; l.P50 < p || l.P50 > p+p/16+1 { // the 4th of 7
		t.Errorf("p50 = %v, want %v (+6.25%%)", l.P50, p)
	}
	if p := 100 * time.Hour; l.P90 != p { // the 7th of 7, in the top bucket: clamped to Max
		t.Errorf("p90 = %v, want the max", l.P90)
	}
	var empty hist
	if e := empty.latency(); e.Count != 0 || e.P99 != 0 || e.Buckets[latencyBuckets-1].Count != 0 {
		t.Errorf("empty: %+v", e)
	}
}

// BenchmarkHistObserve is the cost of recording one duration.
func BenchmarkHistObserve(b *testing.B) {
	var h hist
	d := 123 * time.Microsecond
	b.ReportAllocs()
	for b.Loop() {
		h.observeDuration(d)
	}
}
