package engine

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/flowtel/flowtel/internal/hdr"
)

// TestFlowQuantilesOnePass: the SlowestFraction quantiles of 200 flows are
// read from one pass a second that drains every flow's histogram together
// (at most one membarrier per P, however many flows), a flow first asked
// for after a pass waits for the next, and each threshold is the flow's
// own 99th percentile.
func TestFlowQuantilesOnePass(t *testing.T) {
	e, err := New(WithMetrics(MetricsConfig{NoExport: true, Limit: 1024}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Shutdown(context.Background()) }()
	const flows, runs = 200, 200
	flow := func(i int) string { return "flow-" + strconv.Itoa(i) }
	record := func() {
		for i := range flows {
			s := e.RequestSeries("app", flow(i), 0)
			for k := 1; k <= runs; k++ {
				s.Record(time.Duration(k*(i+1)) * time.Millisecond)
			}
		}
	}
	fq := newFlowQuantiles(e.metrics)
	record()
	sec := int64(time.Second)
	if _, ok := fq.get("app", flow(0), 0.01, 0); !ok {
		t.Fatal("flow 0: no threshold after the first pass")
	}
	for i := 1; i < flows; i++ {
		if _, ok := fq.get("app", flow(i), 0.01, 0); ok {
			t.Fatalf("flow %d: a threshold before a pass drained its histogram", i)
		}
	}
	record()
	f0 := hdr.Fences()
	for i := range flows {
		th, ok := fq.get("app", flow(i), 0.01, sec)
		// Two records of 1..200 ms times i+1: the 99th percentile by
		// nearest rank is the 396th of 400, 198 ms times i+1, read as the
		// lowest value of its HDR bucket (within 1/1024).
		want := time.Duration(198*(i+1)) * time.Millisecond
		if !ok || time.Duration(th) > want || time.Duration(th) < want-want/1024-time.Microsecond {
			t.Fatalf("flow %d: threshold %v %v, want %v", i, time.Duration(th), ok, want)
		}
	}
	if n, p := hdr.Fences()-f0, uint64(runtime.GOMAXPROCS(0)); n > p {
		t.Errorf("%d membarriers for %d flows' quantiles, want at most one per P (%d)", n, flows, p)
	}
	record()
	f0 = hdr.Fences()
	for i := range flows {
		fq.get("app", flow(i), 0.5, sec+sec/2) // a new fraction: no pass within the second
	}
	if n := hdr.Fences() - f0; n != 0 {
		t.Errorf("%d membarriers within the second of the last pass, want none", n)
	}
}
