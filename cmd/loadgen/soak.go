package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime/debug"
	"time"

	"github.com/flowtel/flowtel/export"
)

// soakSample is one per-second reading of the process during a soak.
type soakSample struct {
	T          float64 `json:"t_sec"`
	RSS        uint64  `json:"rss_bytes"`
	LiveHeap   uint64  `json:"live_heap_bytes"` // marked live by the last GC
	Goroutines uint64  `json:"goroutines"`
}

// soakSummary states the bounds a soak checked and what it saw.
type soakSummary struct {
	CapacityRunsPerSec float64 `json:"capacity_runs_per_sec,omitempty"`
	RateRunsPerSec     float64 `json:"rate_runs_per_sec"`
	FailRate           float64 `json:"receiver_fail_rate"`
	RestartEverySec    float64 `json:"restart_every_sec"`
	Restarts           uint64  `json:"receiver_restarts"`
	FailedCalls        uint64  `json:"receiver_failed_calls"`
	WarmupSec          float64 `json:"warmup_sec"`
	BaselineRSS        uint64  `json:"baseline_rss_bytes"`
	MemoryBound        uint64  `json:"memory_bound_bytes"`
	WarmupMaxRSS       uint64  `json:"warmup_max_rss_bytes"`
	MaxRSS             uint64  `json:"max_rss_bytes"`
	RSSCeiling         uint64  `json:"rss_ceiling_bytes"`
	MaxLiveHeap        uint64  `json:"max_live_heap_bytes"`
	// SecondQuarterLiveHeap and LastQuarterLiveHeap are the largest live
	// heaps of those quarters, SecondQuarterFloor and LastQuarterFloor the
	// smallest; PlateauCeiling is what the last quarter's floor may reach.
	SecondQuarterLiveHeap uint64 `json:"second_quarter_max_live_heap_bytes"`
	LastQuarterLiveHeap   uint64 `json:"last_quarter_max_live_heap_bytes"`
	SecondQuarterFloor    uint64 `json:"second_quarter_min_live_heap_bytes"`
	LastQuarterFloor      uint64 `json:"last_quarter_min_live_heap_bytes"`
	PlateauCeiling        uint64 `json:"live_heap_plateau_ceiling_bytes"`
	WarmupGoroutines      uint64 `json:"warmup_max_goroutines"`
	MaxGoroutines         uint64 `json:"max_goroutines"`
	GoroutineCeiling      uint64 `json:"goroutine_ceiling"`
	// LastQuarterRSS and SecondQuarterRSS are the largest RSS readings of
	// those quarters of the soak: a leak shows as a steady climb.
	SecondQuarterRSS uint64       `json:"second_quarter_max_rss_bytes"`
	LastQuarterRSS   uint64       `json:"last_quarter_max_rss_bytes"`
	Failures         []string     `json:"failures"`
	Samples          []soakSample `json:"samples"`
}

// soakRetry is the exporter's retry configuration in a soak: retries
// start fast enough to ride out a receiver restart, and give up after
// 30 s so that a batch is never held longer than that (then counted).
var soakRetry = export.RetryConfig{InitialInterval: 100 * time.Millisecond, MaxInterval: 2 * time.Second, MaxElapsedTime: 30 * time.Second}

// runSoak measures capacity (unless -rate is given), then runs flowtel at
// 80 % of it for -duration against a receiver that fails -fail-rate of its
// calls and restarts every -restart-every, sampling RSS and goroutines
// every second. It fails when the accounting does not reconcile or RSS or
// goroutines pass their ceilings after warm-up.
//
// Capacity is the delivered rate of a lossless run (-block: the caller
// waits instead of dropping), so that the generator does not starve the
// pipeline it measures.
//
// The bounds, checked on every sample after warm-up (which lasts at least
// one receiver restart):
//   - RSS under -max-rss-mib, or by default under the RSS before the load
//     plus twice (GOGC=100 headroom) the configuration's live-heap bound
//     (memoryBound) plus runtimeSlack;
//   - the live heap (what the last GC marked) under the configuration's
//     bound, and its floor (the least of a quarter's samples) in the last
//     quarter of the soak under 1.25 × its floor in the second quarter +
//     32 MiB + the exporter's QueueBytes: it must plateau, not climb. The
//     floors are compared, not the peaks: the exporter's queue fills with
//     each outage and drains after it, which swings the live heap by up to
//     memoryBound's four queue bounds within seconds (29 -> 180 MiB in a
//     loaded run whose second quarter peaked at 79 MiB), so which quarter
//     happened to see the fullest queue would decide a test of peaks. A
//     leak lifts the floor as much as the peaks. The first quarter is not
//     the reference: the engine keeps the records of the most runs it
//     ever held, so the live heap rises to the largest backlog of the
//     first outages, within the bound. RSS is not the measure of a leak
//     either: the runtime keeps freed pages for reuse, so RSS steps up
//     with each larger backlog;
//   - goroutines under the warm-up maximum + 64: a restart replaces the
//     receiver's goroutines and the exporter reconnects; nothing should
//     accumulate.
//
// When -restart-every is not given it is scaled to the duration: every
// minute, or six times per soak when that is shorter.
func runSoak(ctx context.Context, c *config, stdout, stderr io.Writer) int {
	var sum soakSummary
	rate := c.rate
	if rate == 0 {
		cal := *c
		cal.block = true
		cal.duration = min(max(c.duration/10, 3*time.Second), 10*time.Second)
		fmt.Fprintf(stderr, "loadgen: soak: measuring capacity for %v\n", cal.duration)
		rep, err := runMode(ctx, &cal, "flowtel", modeOptions{progress: io.Discard})
		if err != nil {
			fmt.Fprintln(stderr, "loadgen: soak: capacity:", err)
			return 1
		}
		delivered := rep.Exported
		if rep.Received != nil {
			delivered = *rep.Received
		}
		perRun := float64(rep.Produced) / float64(max(rep.Runs, 1))
		sum.CapacityRunsPerSec = float64(delivered) / perRun / rep.ElapsedSec
		rate = 0.8 * sum.CapacityRunsPerSec
		fmt.Fprintf(stderr, "loadgen: soak: capacity %.0f runs/s (%.0f spans/s delivered); soaking at 80%%: %.0f runs/s\n", sum.CapacityRunsPerSec, rep.SpansPerSec, rate)
	}
	sum.RateRunsPerSec, sum.FailRate, sum.RestartEverySec = rate, c.failRate, c.restartEvery.Seconds()
	sc := *c
	sc.rate = rate
	if sc.exportConc == 0 {
		// A failed request holds its export worker through its backoff;
		// with 20 % failures two workers spend much of their time waiting.
		sc.exportConc = 8
	}
	retry := soakRetry
	debug.FreeOSMemory()
	sum.BaselineRSS = procStatusKB("VmRSS")
	_, bound, err := engineOptions(&sc) // checked by parseFlags
	if err != nil {
		fmt.Fprintln(stderr, "loadgen: soak:", err)
		return 1
	}
	sum.MemoryBound = bound
	rep, err := runMode(ctx, &sc, "flowtel", modeOptions{
		progress: stderr, failRate: c.failRate, restartEvery: c.restartEvery, retry: &retry, exporterDrops: !c.block,
		sample: func(el time.Duration) {
			sum.Samples = append(sum.Samples, soakSample{T: el.Seconds(), RSS: procStatusKB("VmRSS"), LiveHeap: liveHeap(), Goroutines: goroutines()})
		},
	})
	if err != nil {
		fmt.Fprintln(stderr, "loadgen: soak:", err)
		return 1
	}
	sum.analyze(c)
	sum.Restarts, sum.FailedCalls = rep.restarts, rep.failedCalls
	if !rep.Reconciled {
		sum.Failures = append(sum.Failures, "accounting does not reconcile: produced != exported + counted drops, or the receiver disagrees")
	}
	if c.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			*modeReport
			Soak *soakSummary `json:"soak"`
		}{rep, &sum}); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
	} else {
		writeText(stdout, &sc, []*modeReport{rep})
		sum.writeText(stdout)
	}
	if len(sum.Failures) > 0 {
		for _, f := range sum.Failures {
			fmt.Fprintln(stderr, "loadgen: soak FAILED:", f)
		}
		return 1
	}
	fmt.Fprintln(stderr, "loadgen: soak passed: accounting reconciled, RSS and goroutines bounded")
	return 0
}

// analyze applies the bounds to the samples.
func (s *soakSummary) analyze(c *config) {
	d := c.duration.Seconds()
	s.WarmupSec = min(max(10, d/10, c.restartEvery.Seconds()+5), d/2)
	var after []soakSample
	for _, x := range s.Samples {
		if x.T <= s.WarmupSec {
			s.WarmupMaxRSS = max(s.WarmupMaxRSS, x.RSS)
			s.WarmupGoroutines = max(s.WarmupGoroutines, x.Goroutines)
		} else {
			after = append(after, x)
		}
		s.MaxRSS = max(s.MaxRSS, x.RSS)
		s.MaxLiveHeap = max(s.MaxLiveHeap, x.LiveHeap)
		s.MaxGoroutines = max(s.MaxGoroutines, x.Goroutines)
	}
	s.RSSCeiling = c.maxRSS
	if s.RSSCeiling == 0 {
		s.RSSCeiling = s.BaselineRSS + 2*s.MemoryBound + runtimeSlack
	}
	s.GoroutineCeiling = s.WarmupGoroutines + 64
	if len(s.Samples) < 2 || len(after) == 0 {
		s.Failures = append(s.Failures, fmt.Sprintf("too few samples (%d) to judge RSS and goroutines: run longer than the %.0fs warm-up", len(s.Samples), s.WarmupSec))
		return
	}
	for _, x := range s.Samples {
		if x.RSS > s.RSSCeiling {
			s.Failures = append(s.Failures, fmt.Sprintf("RSS %s at %.0fs is above the configuration's ceiling %s", mib(x.RSS), x.T, mib(s.RSSCeiling)))
			break
		}
	}
	for _, x := range s.Samples {
		if x.LiveHeap > s.MemoryBound {
			s.Failures = append(s.Failures, fmt.Sprintf("live heap %s at %.0fs is above the configuration's bound %s", mib(x.LiveHeap), x.T, mib(s.MemoryBound)))
			break
		}
	}
	for _, x := range after {
		if x.Goroutines > s.GoroutineCeiling {
			s.Failures = append(s.Failures, fmt.Sprintf("%d goroutines at %.0fs, above the ceiling %d (warm-up max %d)", x.Goroutines, x.T, s.GoroutineCeiling, s.WarmupGoroutines))
			break
		}
	}
	n := len(s.Samples)
	q2, q4 := s.Samples[n/4:n/2], s.Samples[n*3/4:]
	s.SecondQuarterFloor, s.LastQuarterFloor = q2[0].LiveHeap, q4[0].LiveHeap
	for _, x := range q2 {
		s.SecondQuarterRSS = max(s.SecondQuarterRSS, x.RSS)
		s.SecondQuarterLiveHeap = max(s.SecondQuarterLiveHeap, x.LiveHeap)
		s.SecondQuarterFloor = min(s.SecondQuarterFloor, x.LiveHeap)
	}
	for _, x := range q4 {
		s.LastQuarterRSS = max(s.LastQuarterRSS, x.RSS)
		s.LastQuarterLiveHeap = max(s.LastQuarterLiveHeap, x.LiveHeap)
		s.LastQuarterFloor = min(s.LastQuarterFloor, x.LiveHeap)
	}
	// Beside the slack, one queue bound: the floor is the heap when the
	// quarter's queue was at its emptiest, and a quarter of outages may
	// not have drained it as far as a calm one did.
	s.PlateauCeiling = s.SecondQuarterFloor*5/4 + 32<<20 + uint64(max(c.queueBytes, 0))
	if s.LastQuarterFloor > s.PlateauCeiling {
		s.Failures = append(s.Failures, fmt.Sprintf("live heap still climbing: its floor in the last quarter %s is above 1.25 x the second quarter's %s + 32 MiB + the exporter's queue bound %s", mib(s.LastQuarterFloor), mib(s.SecondQuarterFloor), mib(uint64(max(c.queueBytes, 0)))))
	}
}

func (s *soakSummary) writeText(w io.Writer) {
	fmt.Fprintf(w, "\n== soak\n")
	if s.CapacityRunsPerSec > 0 {
		fmt.Fprintf(w, "  capacity          %.0f runs/s (measured); soaked at %.0f runs/s (80%%)\n", s.CapacityRunsPerSec, s.RateRunsPerSec)
	} else {
		fmt.Fprintf(w, "  rate              %.0f runs/s (given)\n", s.RateRunsPerSec)
	}
	fmt.Fprintf(w, "  receiver faults   %.0f%% of calls UNAVAILABLE (%s failed), restarted every %gs (%d restarts)\n", 100*s.FailRate, group(s.FailedCalls), s.RestartEverySec, s.Restarts)
	fmt.Fprintf(w, "  memory bound      live heap %s (configuration), baseline RSS %s; RSS ceiling = baseline + 2 x bound + %s = %s\n", mib(s.MemoryBound), mib(s.BaselineRSS), mib(runtimeSlack), mib(s.RSSCeiling))
	fmt.Fprintf(w, "  RSS               warm-up (%.0fs) max %s, overall max %s (ceiling %s); 2nd quarter max %s, last quarter max %s\n",
		s.WarmupSec, mib(s.WarmupMaxRSS), mib(s.MaxRSS), mib(s.RSSCeiling), mib(s.SecondQuarterRSS), mib(s.LastQuarterRSS))
	fmt.Fprintf(w, "  live heap         max %s (bound %s); 2nd quarter %s to %s, last quarter %s to %s (the floor's plateau ceiling %s)\n", mib(s.MaxLiveHeap), mib(s.MemoryBound), mib(s.SecondQuarterFloor), mib(s.SecondQuarterLiveHeap), mib(s.LastQuarterFloor), mib(s.LastQuarterLiveHeap), mib(s.PlateauCeiling))
	fmt.Fprintf(w, "  goroutines        warm-up max %d, overall max %d, ceiling %d\n", s.WarmupGoroutines, s.MaxGoroutines, s.GoroutineCeiling)
	if len(s.Failures) == 0 {
		fmt.Fprintf(w, "  result            PASS\n")
	} else {
		for _, f := range s.Failures {
			fmt.Fprintf(w, "  result            FAIL: %s\n", f)
		}
	}
}
