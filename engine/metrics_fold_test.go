package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestMetricsFoldAcrossRuns runs random runs through the pipeline, whose
// fold keeps node types from one run to the next and adds what it counted
// once a drain (Metrics.flushFold), and checks at every ForceFlush that
// the node families count every node so far exactly: executions by type
// and status, durations by type. The runs take their nodes' types from
// more than the fold keeps, so that types are replaced in it and come
// back, and some nodes stay open (exported incomplete, counted as
// errors).
func TestMetricsFoldAcrossRuns(t *testing.T) {
	types := make([]string, 2*foldKept+3)
	for i := range types {
		types[i] = fmt.Sprintf("type%02d", i)
	}
	for seed := range uint64(4) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 16))
			e := newMetricsEngine(t)
			want := map[string][3]int64{} // by type: ok, error, cancelled
			for range 6 {
				for range 1 + r.IntN(60) {
					run := e.StartRun(RunInfo{AppID: "app", FlowID: "flow"})
					for range 1 + r.IntN(12) {
						typ := types[r.IntN(len(types))]
						// Runs mostly repeat a few types, as workflows do.
						if r.IntN(2) == 0 {
							typ = types[r.IntN(4)]
						}
						n := run.StartNode("n", typ, "N")
						w := want[typ]
						switch r.IntN(8) {
						case 0:
							n.Fail("failed")
							w[1]++
						case 1:
							n.Cancel("cancelled")
							w[2]++
						case 2: // left open: the run's end closes it, an error
							w[1]++
						default:
							n.End()
							w[0]++
						}
						want[typ] = w
					}
					run.End(0, "")
				}
				flush(t, e)
				d := collectOTLP(t, e)
				for typ, w := range want {
					for k, status := range []string{NodeStatusOK, NodeStatusError, NodeStatusCancelled} {
						ps := d.find(MetricNodeExecutions, map[string]string{"node_type": typ, "status": status})
						if got := sumValues(ps); got != w[k] {
							t.Fatalf("%s %s: %d executions, want %d", typ, status, got, w[k])
						}
					}
					if h := d.one(t, MetricNodeDuration, map[string]string{"node_type": typ}); int64(h.count) != w[0]+w[1]+w[2] {
						t.Fatalf("%s: %d durations, want %d", typ, h.count, w[0]+w[1]+w[2])
					}
				}
			}
		})
	}
}

// sumValues returns the sum of the values of ps: 0 for none.
func sumValues(ps []point) int64 {
	var s int64
	for _, p := range ps {
		s += p.value
	}
	return s
}
