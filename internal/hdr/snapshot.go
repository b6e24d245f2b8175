package hdr

import (
	"math"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Snapshot is a merged, immutable view of a Histogram at one collection.
// Reuse a Snapshot across collections: its sparse histogram keeps its
// capacity, so steady-state collections allocate nothing.
type Snapshot struct {
	// Count is the number of recorded values.
	Count uint64
	// Sum is the exact sum of the recorded (clamped) values.
	Sum int64
	// Min and Max are the exact extremes of the recorded (clamped) values;
	// both are 0 when Count is 0.
	Min, Max int64
	// Clamped counts values that were below 0 or above the highest
	// trackable value and were recorded at the nearest bound.
	Clamped uint64

	h   *hdrhistogram.PackedHistogram
	cfg Config
}

// fill copies p and st into s.
func (s *Snapshot) fill(cfg Config, p *hdrhistogram.PackedHistogram, st *stats) {
	if s.h == nil || s.cfg != cfg {
		s.h = newPacked(cfg)
		s.cfg = cfg
	}
	s.h.Reset()
	s.h.Merge(p)
	s.Count, s.Sum, s.Min, s.Max, s.Clamped = st.count, st.sum, st.min, st.max, st.clamped
}

// Mean returns Sum/Count, or 0 when Count is 0.
func (s *Snapshot) Mean() float64 {
	if s.Count == 0 {
		return 0
	}
	return float64(s.Sum) / float64(s.Count)
}

// ValueAtQuantile returns the value below or at which a fraction q (0..1)
// of the recorded values lie, as HDR reports it: the highest value
// equivalent to the nearest-rank sample, within the configured precision
// (1/1024 at 3 digits). It returns 0 when Count is 0.
func (s *Snapshot) ValueAtQuantile(q float64) int64 {
	if s.h == nil {
		return 0
	}
	return s.h.ValueAtPercentile(q * 100)
}

// ForEachBucket calls fn for each populated HDR bucket in ascending order,
// with the lowest value the bucket holds and its count, until fn returns
// false.
func (s *Snapshot) ForEachBucket(fn func(value, count int64) bool) {
	if s.h != nil {
		s.h.ForEachBucket(fn)
	}
}

// BucketCounts appends to dst[:0] the counts of explicit buckets with the
// given ascending upper bounds, OTLP and Prometheus style: bucket i counts
// values v with bounds[i-1] < v <= bounds[i], and the last of the
// len(bounds)+1 counts holds values above the last bound. Counts are not
// cumulative. Each HDR bucket is placed by the lowest value it holds, so a
// value equal to a bound is always counted at or below it, and a value
// that exceeds a bound by less than the configured precision may be
// counted below it.
func (s *Snapshot) BucketCounts(dst []uint64, bounds []float64) []uint64 {
	dst = dst[:0]
	for range len(bounds) + 1 {
		dst = append(dst, 0)
	}
	if s.h == nil {
		return dst
	}
	i := 0
	s.h.ForEachBucket(func(value, count int64) bool {
		v := float64(value)
		for i < len(bounds) && v > bounds[i] {
			i++
		}
		dst[i] += uint64(count)
		return true
	})
	return dst
}

// Exponential appends to dst[:0] the positive buckets of an OTLP
// exponential histogram at scale: bucket index k counts values in
// (base^k, base^(k+1)] with base = 2^(2^-scale), and counts[j] is bucket
// offset+j. Zero values go to zeroCount. Each HDR bucket is placed by the
// lowest value it holds.
func (s *Snapshot) Exponential(scale int32, dst []uint64) (offset int32, counts []uint64, zeroCount uint64) {
	dst = dst[:0]
	if s.h == nil {
		return 0, dst, 0
	}
	first := true
	s.h.ForEachBucket(func(value, count int64) bool {
		if value <= 0 {
			zeroCount += uint64(count)
			return true
		}
		k := ExpIndex(float64(value), scale)
		if first {
			offset, first = k, false
		}
		for int32(len(dst)) <= k-offset {
			dst = append(dst, 0)
		}
		dst[k-offset] += uint64(count)
		return true
	})
	return offset, dst, zeroCount
}

// ExponentialScale returns the largest scale, at most maxScale and at
// least -10, at which the populated range of s fits in maxBuckets
// exponential buckets.
func (s *Snapshot) ExponentialScale(maxBuckets int, maxScale int32) int32 {
	lo, hi := int64(0), int64(0)
	s.ForEachBucket(func(value, _ int64) bool {
		if value > 0 {
			if lo == 0 {
				lo = value
			}
			hi = value
		}
		return true
	})
	scale := maxScale
	if lo == 0 {
		return scale
	}
	for ; scale > -10; scale-- {
		if int(ExpIndex(float64(hi), scale)-ExpIndex(float64(lo), scale)) < maxBuckets {
			break
		}
	}
	return scale
}

// ExpIndex returns the index of the OTLP exponential bucket at scale that
// holds v > 0: the k with base^k < v <= base^(k+1), base = 2^(2^-scale).
// Exact powers of two are mapped exactly, as the OTel SDKs do.
func ExpIndex(v float64, scale int32) int32 {
	frac, exp := math.Frexp(v) // v = frac * 2^exp, frac in [0.5, 1)
	e := int32(exp - 1)        // v = 1.x * 2^e
	if frac == 0.5 {
		// v is exactly 2^e: the upper (inclusive) end of bucket
		// (e<<scale)-1 at scale >= 0.
		if scale >= 0 {
			return e<<scale - 1
		}
		return (e - 1) >> -scale
	}
	if scale <= 0 {
		return e >> -scale
	}
	// Logarithm mapping for positive scales; the floor can land one off
	// near bucket boundaries, so correct it against exact powers.
	k := int32(math.Floor(math.Log2(v) * math.Ldexp(1, int(scale))))
	return expCorrect(v, scale, k)
}

// expCorrect nudges k so that base^k < v <= base^(k+1).
func expCorrect(v float64, scale int32, k int32) int32 {
	lower := func(k int32) float64 { return math.Exp2(math.Ldexp(float64(k), -int(scale))) }
	for k > math.MinInt32/2 && lower(k) >= v {
		k--
	}
	for lower(k+1) < v {
		k++
	}
	return k
}
