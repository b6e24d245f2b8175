package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/promhttp"
)

// procStatusKB returns a field of /proc/self/status in bytes (e.g. VmHWM,
// VmRSS), or 0 where /proc is not available.
func procStatusKB(field string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// resetPeakRSS resets VmHWM to the current RSS (Linux 4.0+), so that each
// mode of a run reports its own peak. It reports whether it could.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// memSnap is what the report needs from the runtime, taken before and after
// a mode.
type memSnap struct {
	allocs, bytes uint64
	gcs           uint32
	pauseTotalNs  uint64
	pauses        [256]uint64
	cpuNs         uint64 // processCPU
}

func takeMem() memSnap {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memSnap{allocs: ms.Mallocs, bytes: ms.TotalAlloc, gcs: ms.NumGC, pauseTotalNs: ms.PauseTotalNs, pauses: ms.PauseNs, cpuNs: processCPU()}
}

// processCPU returns the CPU time the process has used, user and system,
// every thread, from /proc/self/stat (in ticks of 10 ms: USER_HZ is 100),
// or 0 where /proc is not available.
func processCPU() uint64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: fields count from the
	// last ')'. utime and stime are fields 14 and 15.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseUint(f[11], 10, 64)
	stime, _ := strconv.ParseUint(f[12], 10, 64)
	return (utime + stime) * uint64(10*time.Millisecond)
}

// gcReport describes the GC cycles between two snapshots.
type gcReport struct {
	Cycles       uint32  `json:"cycles"`
	PauseTotalMs float64 `json:"pause_total_ms"`
	PauseMaxMs   float64 `json:"pause_max_ms"`
	PauseP99Ms   float64 `json:"pause_p99_ms"`
}

func gcBetween(a, b memSnap) gcReport {
	r := gcReport{Cycles: b.gcs - a.gcs, PauseTotalMs: float64(b.pauseTotalNs-a.pauseTotalNs) / 1e6}
	// PauseNs is a ring of the last 256 pauses; the most recent is at
	// (NumGC+255)%256.
	n := min(r.Cycles, 256)
	ps := make([]uint64, 0, n)
	for i := uint32(0); i < n; i++ {
		ps = append(ps, b.pauses[(b.gcs-i+255)%256])
	}
	if len(ps) > 0 {
		slices.Sort(ps)
		r.PauseMaxMs = float64(ps[len(ps)-1]) / 1e6
		r.PauseP99Ms = float64(ps[(len(ps)*99)/100]) / 1e6
	}
	return r
}

// goroutines returns the live goroutine count from runtime/metrics.
func goroutines() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		return s[0].Value.Uint64()
	}
	return uint64(runtime.NumGoroutine())
}

// nodeRecordBytes is the heap a node record with its inline attributes
// takes in the engine (engine.newNodeRecord in a heap profile of loadgen
// -block with 8 attributes per node: 133 MB for about 65,000 records).
// A run record is counted as one more node.
const nodeRecordBytes = 2 << 10

// runsInFlight is the engine's Limits.RunsInFlight for the workload: the
// runs open at once (-concurrency), twice as many again ended and waiting
// for the exporter (every open run may end in one burst and be replaced
// at once, and the next burst can end before the last is exported: a
// burst of 10,000 runs is 140 MB of OTLP against the exporter's 64 MiB
// queue), and 4096 for the runs that end during one flush interval. The
// engine derives its rings and memory from it. With one burst's room,
// -workload synthetic -concurrency 10000 at half of its lossless rate
// (20,838 of 41,676 runs/s) dropped 11,547 spans as engine.run_limit.
func runsInFlight(c *config) int {
	return min(3*c.concurrency+4096, maxRunsInFlight)
}

// maxRunsInFlight is the largest Limits.RunsInFlight engine.New accepts (a
// bound on the arena it allocates up front). At the largest -concurrency,
// 1<<23, runsInFlight would pass it without the cap.
const maxRunsInFlight = 1 << 24

// memoryBound is the bound the configuration puts on flowtel's live heap:
// every run the engine may hold (runsInFlight: open, waiting in a ring or
// in the pipeline's batch) with all its nodes and their tool calls (one
// per LLM node, at most one per node), plus four times the
// exporter's QueueBytes: QueueBytes bounds the encoded length of the queued
// buffers, their capacity can be up to twice that, and as many again can
// sit freed in buffer pools until the next GC. Payload strings are shared
// by the generator, so they are not counted. RSS adds the GC's headroom
// (GOGC=100: up to twice the live heap) and the runtime's own memory.
// engineOptions adds what the engine allocates up front (the rings and
// the arena) for the bound it reports and gives the engine.
func memoryBound(c *config) uint64 {
	runs := uint64(runsInFlight(c))
	return runs*uint64(2*c.nodes+1)*nodeRecordBytes + 4*uint64(c.queueBytes)
}

// runtimeSlack is what RSS may hold beyond twice the live heap: goroutine
// stacks, gRPC's transport buffers, the embedded receiver, fragmentation.
const runtimeSlack = 128 << 20

// serveMetrics serves eng's Prometheus /metrics on addr until stop is
// called, so that a real Prometheus can scrape the load generator.
func serveMetrics(addr string, eng *engine.Engine) (stop func(), err error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.Handler(eng))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	return func() { _ = srv.Close(); <-done }, nil
}

// liveHeap returns the heap bytes the last GC marked live.
func liveHeap() uint64 {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}
