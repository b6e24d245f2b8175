package main

import (
	"fmt"
	"io"
	"time"

	"github.com/flowtel/flowtel/engine"
)

// report is what one run of the example produced.
type report struct {
	cfg                     config
	endpoint                string
	load                    time.Duration
	failed                  int64
	stats                   engine.Stats
	exported                uint64
	received, receivedRoots *uint64 // nil with -endpoint
	bottlenecks             []engine.Bottleneck
}

// ok reports whether every request succeeded and every span was exported
// (and received, by the embedded receiver).
func (r *report) ok() bool {
	s := r.stats
	good := r.failed == 0 && s.Dropped == 0 && s.Accepted == s.Exported && r.exported == s.Exported
	if r.received != nil {
		good = good && *r.received == r.exported && *r.receivedRoots == uint64(r.cfg.requests)
	}
	return good
}

func (r *report) write(w io.Writer) {
	c := r.cfg
	s := r.stats
	runs := uint64(c.requests)
	fmt.Fprintf(w, "eino-agent: %d requests, %d at once, first chunk %v, %v per chunk -> %s\n",
		c.requests, c.concurrency, c.lat.firstChunk, c.lat.perChunk, r.endpoint)
	fmt.Fprintf(w, "  runs/s            %.1f  (%d runs in %.2fs, %d failed)\n", float64(runs)/r.load.Seconds(), runs, r.load.Seconds(), r.failed)
	nodes := s.Accepted - min(runs, s.Accepted)
	fmt.Fprintf(w, "  node spans        %d  (%.1f per run; spans %d, %.0f/s)\n", nodes, float64(nodes)/float64(runs), s.Accepted, float64(s.Accepted)/r.load.Seconds())
	fmt.Fprintf(w, "  produced          %d\n", s.Accepted)
	fmt.Fprintf(w, "  exported          %d  (engine handed %d to the exporter, dropped %d, in flight %d)\n", r.exported, s.Exported, s.Dropped, s.InFlight)
	if r.received != nil {
		fmt.Fprintf(w, "  received          %d  (%d runs: root spans)\n", *r.received, *r.receivedRoots)
	}
	mark := "ok"
	if !r.ok() {
		mark = "FAIL"
	}
	fmt.Fprintf(w, "  reconciled        %s\n", mark)
	fmt.Fprintf(w, "  node bottlenecks  (engine metrics, slowest p99 first)\n")
	fmt.Fprintf(w, "    %-4s %-10s %8s %8s %10s %10s %10s\n", "rank", "node type", "count", "errors", "p50 ms", "p99 ms", "mean ms")
	for _, b := range r.bottlenecks {
		fmt.Fprintf(w, "    %-4d %-10s %8d %7.2f%% %10.2f %10.2f %10.2f\n", b.LatencyRank, b.NodeType, b.Count, 100*b.ErrorRate,
			float64(b.P50)/1e3, float64(b.P99)/1e3, b.MeanMicros/1e3)
	}
	if len(r.bottlenecks) > 0 {
		fmt.Fprintf(w, "  slowest node type %s\n", r.bottlenecks[0].NodeType)
	}
}
