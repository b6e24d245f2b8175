package engine

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/hdr"
)

// exactQuantile returns the nearest-rank quantile of sorted samples.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Round(q * float64(len(sorted))))
	return sorted[min(max(rank-1, 0), len(sorted)-1)]
}

// TestBottlenecks feeds the pipeline's observeRun runs whose node
// durations and failures are known, per node type, from random
// distributions, and checks the report: counts, errors, percentiles
// within HDR precision of the exact ones, and both rankings.
func TestBottlenecks(t *testing.T) {
	e := newMetricsEngine(t)
	types := []struct {
		name    string
		scaleUs int64   // durations uniform in [1, scaleUs] µs
		errRate float64 // probability a node fails
	}{
		{"llm", 2_000_000, 0.02},
		{"plugin", 300_000, 0.20},
		{"code", 5_000, 0.05},
		{"start", 50, 0},
	}
	r := rand.New(rand.NewPCG(7, 8))
	samples := map[string][]int64{}
	errs := map[string]uint64{}
	for range 3000 {
		run := &encode.Run{AppID: "a", FlowID: "f", StartUnixNano: 0, EndUnixNano: 1}
		for _, ty := range types {
			us := 1 + r.Int64N(ty.scaleUs)
			n := &encode.Node{NodeType: ty.name, StartUnixNano: 1_000, EndUnixNano: 1_000 + us*1000}
			if r.Float64() < ty.errRate {
				n.Status = encode.StatusError
				errs[ty.name]++
			}
			samples[ty.name] = append(samples[ty.name], us)
			run.Nodes = append(run.Nodes, n)
		}
		e.metrics.observeRun(run)
	}
	f0 := hdr.Fences()
	bs := e.Bottlenecks()
	// Every node type's durations are drained together: at most one
	// membarrier per P, not one per series (none off the fence path).
	if n, p := hdr.Fences()-f0, uint64(runtime.GOMAXPROCS(0)); n > p {
		t.Errorf("Bottlenecks made %d membarriers for %d node types, want at most one per P (%d)", n, len(types), p)
	}
	if len(bs) != len(types) {
		t.Fatalf("%d entries, want %d", len(bs), len(types))
	}
	// Slowest p99 first: the types were declared in that order.
	for i, b := range bs {
		if b.NodeType != types[i].name || b.LatencyRank != i+1 {
			t.Errorf("latency rank %d: %s (rank %d), want %s", i+1, b.NodeType, b.LatencyRank, types[i].name)
		}
		s := samples[b.NodeType]
		slices.Sort(s)
		if b.Count != uint64(len(s)) || b.Errors != errs[b.NodeType] || b.ErrorRate != float64(b.Errors)/float64(b.Count) {
			t.Errorf("%s: count %d errors %d rate %v", b.NodeType, b.Count, b.Errors, b.ErrorRate)
		}
		for _, q := range []struct {
			q   float64
			got int64
		}{{0.5, b.P50}, {0.9, b.P90}, {0.99, b.P99}, {0.999, b.P999}} {
			want := exactQuantile(s, q.q)
			if math.Abs(float64(q.got-want)) > float64(want)/1024+1 {
				t.Errorf("%s p%v = %d µs, exact %d", b.NodeType, q.q*100, q.got, want)
			}
		}
	}
	byErr := slices.Clone(bs)
	slices.SortFunc(byErr, func(a, b Bottleneck) int { return a.ErrorRank - b.ErrorRank })
	for i := 1; i < len(byErr); i++ {
		if byErr[i].ErrorRank != i+1 || byErr[i].ErrorRate > byErr[i-1].ErrorRate {
			t.Errorf("error ranking: %+v", byErr)
		}
	}
	if byErr[0].NodeType != "plugin" || byErr[len(byErr)-1].NodeType != "start" {
		t.Errorf("error ranking starts with %s and ends with %s", byErr[0].NodeType, byErr[len(byErr)-1].NodeType)
	}
}
