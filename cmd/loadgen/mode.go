package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/flowtel/flowtel/bench"
	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/otlp"
	"github.com/flowtel/flowtel/sid"
)

// modeOptions are what soak mode changes in a run.
type modeOptions struct {
	progress io.Writer
	// failRate and restartEvery inject receiver faults (soak).
	failRate     float64
	restartEvery time.Duration
	// retry overrides the exporter's retry configuration.
	retry *export.RetryConfig
	// sample is called every second with the elapsed load time (soak).
	sample func(elapsed time.Duration)
	// exporterDrops makes the exporter drop a batch its queue has no room
	// for instead of making the engine's export stage wait (soak).
	exporterDrops bool
}

// tracerStats is a live view of a tracer's accounting for progress lines.
type tracerStats struct {
	exported, dropped, queued uint64
	dropsKnown                bool
	// exportFailures counts failed export attempts (flowtel: requests
	// less the batches exported, at least the requests that failed, since
	// a request may carry several batches; the SDK: spans its exporter
	// failed, after its retries).
	exportFailures uint64
}

// An external endpoint that has taken no span unreachableAfter into the
// load, and to which a TCP connection fails, ends the mode with an error;
// the tracer then has unreachableShutdown to drop what it holds.
const (
	unreachableAfter    = 3 * time.Second
	unreachableShutdown = time.Second
)

// unreachable returns the error that ends a mode whose endpoint took
// nothing in elapsed and cannot be dialled, nil if it can.
func unreachable(c *config, elapsed time.Duration, failures uint64) error {
	if err := checkReachable(c.endpoint); err != nil {
		return fmt.Errorf("cannot reach -endpoint %s: no span exported in %.0f s, %d export attempts failed: %w",
			export.RedactURL(c.endpoint), elapsed.Seconds(), failures, err)
	}
	return nil
}

// checkReachable dials endpoint (host:port or a URL) and returns the
// error that says it cannot be reached, nil if it can (or if it is a
// socket file: the export errors say the rest).
func checkReachable(endpoint string) error {
	host, err := endpointAddr(endpoint)
	if err != nil || host == "" {
		return err
	}
	conn, err := net.DialTimeout("tcp", host, time.Second)
	if err != nil {
		return err
	}
	conn.Close()
	return nil
}

// errEndpoint is endpointAddr's error: it names no part of the endpoint,
// which may hold a credential.
var errEndpoint = errors.New("not a URL or host:port")

// endpointAddr returns the host:port to dial for endpoint, "" for a
// socket file, or errEndpoint when it is neither a URL nor a host:port.
// A host:port is read as the exporter reads it, as a URL's authority:
// user information before an '@' is a credential, never dialled (a
// resolver's error would print it).
func endpointAddr(endpoint string) (string, error) {
	if strings.HasPrefix(endpoint, "unix:") || strings.HasPrefix(endpoint, "unix-abstract:") {
		return "", nil
	}
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", errEndpoint
	}
	host, scheme := u.Host, u.Scheme
	if _, _, err := net.SplitHostPort(host); err != nil {
		port := "80"
		if scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(host, port)
	}
	return host, nil
}

// runMode generates load through one tracer for c.duration, flushes, and
// returns the report.
func runMode(ctx context.Context, c *config, mode string, opt modeOptions) (*modeReport, error) {
	plans, wl, err := buildWorkload(c)
	if err != nil {
		return nil, err
	}
	rc, endpoint, err := startReceiver(c, opt)
	if err != nil {
		return nil, err
	}
	if rc != nil {
		defer rc.Close()
	}
	rep := &modeReport{Mode: mode, Endpoint: export.RedactURL(endpoint), Protocol: c.protocol, Workload: c.workload, DroppedBy: map[string]uint64{}}
	tr, err := newTracer(ctx, c, mode, opt, endpoint, rc, rep, wl)
	if err != nil {
		return nil, err
	}

	// Return the previous mode's freed memory to the OS first, so that the
	// peak RSS of this mode is its own.
	debug.FreeOSMemory()
	peakReset := resetPeakRSS()
	m0 := takeMem()
	ld := startLoad(c, tr.drv, plans, wl)
	stopRestarts := restartReceiver(rc, opt)
	if err := watch(c, mode, opt, ld, tr, rep); err != nil {
		// The endpoint cannot be reached: stop now rather than wait for
		// the duration and then the exporter's retries of every batch.
		ld.stopAndWait()
		stopRestarts()
		sctx, cancel := context.WithTimeout(ctx, unreachableShutdown)
		_ = tr.shutdown(sctx) // drops what it holds, counted; the error says why
		cancel()
		return nil, err
	}
	if c.memProfile != "" {
		writeHeapProfile(c.memProfile, opt.progress)
		c.memProfile = ""
	}
	ld.stopAndWait()
	loadEnd := time.Now()
	stopRestarts()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = tr.shutdown(sctx)
	cancel()
	end := time.Now()
	m1 := takeMem()
	if err != nil {
		fmt.Fprintf(opt.progress, "loadgen: %s shutdown: %v\n", mode, err)
	}
	rep.fill(ld, tr, m0, m1, loadEnd, end)
	rep.PeakRSSSinceStart = !peakReset
	return rep, nil
}

// buildWorkload returns the plans every worker cycles through and the
// content of their nodes, the same for every mode.
func buildWorkload(c *config) ([]plan, *workload, error) {
	types, cum, err := parseMix(c.mix)
	if err != nil {
		return nil, nil, err
	}
	pl := &planner{rng: rand.New(rand.NewPCG(c.seed, 1)), types: types, cum: cum, nodes: c.nodes, fanout: c.fanout}
	plans, err := pl.plans(c.shape)
	if err != nil {
		return nil, nil, err
	}
	return plans, newWorkload(c), nil
}

// startReceiver starts the embedded receiver unless -endpoint names a
// real one, and returns where to export.
func startReceiver(c *config, opt modeOptions) (*bench.Receiver, string, error) {
	if c.endpoint != "" {
		return nil, c.endpoint, nil
	}
	rc, err := bench.StartReceiver(bench.ReceiverConfig{Protocol: c.protocol, FailRate: opt.failRate, Decode: c.decode})
	if err != nil {
		return nil, "", err
	}
	return rc, rc.Endpoint(), nil
}

// tracer is one mode's tracer as the load and the report see it.
type tracer struct {
	drv      driver
	eng      *engine.Engine // nil for the SDK
	live     func() tracerStats
	shutdown func(context.Context) error
	// final fills the report's accounting once the tracer is shut down.
	final func(produced uint64)
}

// newTracer builds the tracer of a mode, exporting to endpoint.
func newTracer(ctx context.Context, c *config, mode string, opt modeOptions, endpoint string, rc *bench.Receiver, rep *modeReport, wl *workload) (*tracer, error) {
	switch mode {
	case "flowtel":
		return newFlowtelTracer(ctx, c, opt, endpoint, rc, rep, wl)
	case "otelsdk", "otelsdk-blocking", "otelsdk-tuned":
		if c.protocol != "grpc" {
			return nil, fmt.Errorf("the SDK comparison needs -protocol grpc")
		}
		tp, ce, err := newSDKProvider(ctx, endpoint, sdkModes[mode])
		if err != nil {
			return nil, err
		}
		return &tracer{
			drv:      newSDKDriver(tp, wl),
			live:     func() tracerStats { return tracerStats{exported: ce.exported.Load(), exportFailures: ce.failed.Load()} },
			shutdown: tp.Shutdown,
			final:    func(produced uint64) { rep.fillSDK(produced, ce.exported.Load(), ce.failed.Load(), rc) },
		}, nil
	}
	return nil, fmt.Errorf("unknown mode %q", mode)
}

// engineOptions returns the flowtel engine's options that the flags set
// and the bound they put on its live heap: memoryBound's records and
// queue, plus what the engine allocates up front (the rings and the
// arena), which its memory limit includes. The engine's own rules check
// the settings (engine.Validate, which allocates neither the rings nor
// the arena): parseFlags calls it, so that a value the engine refuses is
// refused before any load starts.
func engineOptions(c *config) ([]engine.Option, uint64, error) {
	policy, timeout := engine.DropNewest, time.Duration(0)
	if c.block {
		policy, timeout = engine.Block, c.blockTimeout
	}
	opts := []engine.Option{
		engine.WithOverflow(policy, timeout),
		engine.WithBatch(c.batch, engine.DefaultFlushInterval),
		engine.WithSID(sid.Config{Sub: "spf", Location: "hf", IP: "127.0.164.187", Port: "20000"}),
		engine.WithLimits(engine.Limits{RunsInFlight: runsInFlight(c), NodesPerRun: max(1024, 2*c.nodes)}),
		engine.WithTailSampling(c.tail),
	}
	if c.ring > 0 {
		opts = append(opts, engine.WithRingCapacity(c.ring))
	}
	if !c.metricsPush {
		opts = append(opts, engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
	}
	upFront, err := engine.Validate(opts...)
	if err != nil {
		return nil, 0, err
	}
	// The engine's default memory limit stops at 1 GiB; the workload's
	// runs in flight with their nodes need what memoryBound says, beside
	// the rings and the arena. memoryBound alone, as before, left a ring
	// of 16,777,216 slots (512 MiB on 2 shards) no room for a run beside
	// the 398 MiB of -workload synthetic's bound: refused with a message
	// about a memory limit no flag sets.
	bound := memoryBound(c) + uint64(upFront)
	return append(opts, engine.WithMemoryLimit(int64(bound))), bound, nil
}

// newFlowtelTracer builds flowtel's engine, OTLP sink and exporter.
func newFlowtelTracer(ctx context.Context, c *config, opt modeOptions, endpoint string, rc *bench.Receiver, rep *modeReport, wl *workload) (*tracer, error) {
	xcfg := export.Config{Protocol: c.protocol, Endpoint: endpoint, Insecure: true, QueueBytes: c.queueBytes, Concurrency: c.exportConc,
		Release: encode.PutBuffer}
	if opt.retry != nil {
		xcfg.Retry = *opt.retry
	}
	// The exporter's queue waits for room instead of dropping: what waits
	// is the engine's export stage, never a caller, and behind it the
	// rings hold every run in flight, so a burst of run ends larger than
	// the queue waits in records already held instead of being dropped.
	// The soak keeps the dropping queue: under its sustained faults the
	// backlog would otherwise move into the engine's records until
	// RunsInFlight refuses runs, and its live heap would climb to that
	// bound instead of staying at the queue's.
	// With -block both this wait and the callers' are -block-timeout (10 s
	// by default; 1 s before): a lossless maximum-throughput run on a
	// shared host dropped a few spans by block_timeout when the host
	// stalled the process for a second, which measured the host.
	xcfg.Block, xcfg.BlockTimeout = !opt.exporterDrops, time.Second
	if c.block {
		xcfg.BlockTimeout = c.blockTimeout
	}
	exp, err := export.New(xcfg)
	if errors.Is(err, export.ErrInvalidEndpoint) {
		return nil, fmt.Errorf("-endpoint %s: %w", export.RedactURL(c.endpoint), err) // the error says Endpoint, no flag
	}
	if err != nil {
		return nil, err
	}
	res := encode.Resource{ServiceName: "loadgen", HostIP: "127.0.0.1"}
	sink, err := otlp.NewSink(exp, res, c.logs)
	if err != nil {
		_ = exp.Shutdown(ctx)
		// The sink refuses a queue too small for a request carrying the
		// resource (-queue-bytes 16: "the resource encodes to 533 bytes,
		// more than 8"), a message that named no flag.
		return nil, fmt.Errorf("-queue-bytes %d: %w", c.queueBytes, err)
	}
	opts, bound, err := engineOptions(c)
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, err
	}
	opts = append(opts, engine.WithSink(sink), engine.WithResource(res),
		engine.WithMetricsExporter(sink)) // OTLP metrics too, and the exporter's health in -metrics-addr
	eng, err := engine.New(opts...)
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, err
	}
	tr := &tracer{
		drv: newFlowtelDriver(eng, wl),
		eng: eng,
		live: func() tracerStats {
			s := eng.Stats()
			x := exp.Stats().Signals[export.Traces]
			return tracerStats{exported: x.Exported, dropped: s.Dropped, queued: s.InFlight, dropsKnown: true, // the engine folds in the exporter (engine.SinkReporter)
				exportFailures: x.Requests - min(x.Requests, x.ExportedBatches)}
		},
		shutdown: eng.Shutdown,
		final: func(produced uint64) {
			rep.fillFlowtel(produced, eng.Stats(), sink.SinkStats(), exp.Stats(), rc, c)
			rep.ExportedBytes = sink.EncoderStats().Bytes
		},
	}
	if c.metricsAddr != "" {
		stop, err := serveMetrics(c.metricsAddr, eng)
		if err != nil {
			_ = eng.Shutdown(ctx)
			return nil, err
		}
		tr.shutdown = func(ctx context.Context) error { defer stop(); return eng.Shutdown(ctx) }
	}
	rep.MemoryBound = bound
	return tr, nil
}

// load is the workers generating one mode's load.
type load struct {
	ws    []*worker
	ctrs  []counters
	stop  atomic.Bool
	wg    sync.WaitGroup
	start time.Time
	// Runs in flight and the live heap, sampled every second.
	inFlightMax, inFlightSum, samples uint64
	liveHeapMax                       uint64
}

// startLoad starts the workers, each with its share of -concurrency slots.
func startLoad(c *config, drv driver, plans []plan, wl *workload) *load {
	workers := min(c.workers, c.concurrency)
	ld := &load{ws: make([]*worker, workers), ctrs: make([]counters, workers)}
	base := time.Now()
	var lim *limiter
	if c.rate > 0 {
		lim = &limiter{start: base, interval: 1e9 / c.rate, ramp: float64(min(c.ramp, c.duration/4)), stop: &ld.stop}
	}
	ld.start = time.Now()
	for i := range ld.ws {
		w := &worker{
			id: i, rng: rand.New(rand.NewPCG(c.seed, uint64(i)+2)), hist: newHist(), every: c.sample,
			base: base, ctr: &ld.ctrs[i], plans: plans, errRate: c.errorRate, firstFrame: wl.firstFrame, scale: c.latencyScale,
		}
		if c.workload == workloadSyntheticV1 {
			w.v1 = drv.(v1Driver) // parseFlags refuses the other modes
		}
		ld.ws[i] = w
		n := c.concurrency / workers
		if i < c.concurrency%workers {
			n++
		}
		ld.wg.Add(1)
		go func() {
			defer ld.wg.Done()
			if c.workload == workloadRealistic {
				w.timedLoop(drv, n, lim, &ld.stop)
			} else {
				w.loop(drv, n, lim, &ld.stop)
			}
		}()
	}
	return ld
}

// totals sums the workers' counters.
type totals struct{ produced, nodes, started, runs, refused uint64 }

func (ld *load) sum() (t totals) {
	for i := range ld.ctrs {
		c := &ld.ctrs[i]
		t.produced += c.produced.Load()
		t.nodes += c.nodes.Load()
		t.started += c.started.Load()
		t.runs += c.runs.Load()
		t.refused += c.refused.Load()
	}
	return t
}

// sample records the runs in flight and the live heap.
func (ld *load) sample() (inFlight uint64) {
	t := ld.sum()
	inFlight = t.started - min(t.runs, t.started)
	ld.inFlightMax = max(ld.inFlightMax, inFlight)
	ld.inFlightSum += inFlight
	ld.samples++
	ld.liveHeapMax = max(ld.liveHeapMax, liveHeap())
	return inFlight
}

// stopAndWait stops the workers, which end every run still open.
func (ld *load) stopAndWait() {
	ld.stop.Store(true)
	ld.wg.Wait()
}

// restartReceiver restarts the embedded receiver every opt.restartEvery
// (soak) until the returned function is called.
func restartReceiver(rc *bench.Receiver, opt modeOptions) (stop func()) {
	if rc == nil || opt.restartEvery <= 0 {
		return func() {}
	}
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(opt.restartEvery)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if err := rc.Restart(100 * time.Millisecond); err != nil {
					fmt.Fprintln(opt.progress, "loadgen: receiver restart:", err)
				}
			}
		}
	}()
	return func() { close(quit); <-done }
}

// watch waits out c.duration, printing a progress line and sampling the
// runs in flight and the live heap every second.
//
// With an external endpoint that has taken nothing unreachableAfter into
// the load and cannot be dialled, it returns an error saying so.
func watch(c *config, mode string, opt modeOptions, ld *load, tr *tracer, rep *modeReport) error {
	tty := isTerminal(opt.progress)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	deadline := time.NewTimer(c.duration)
	defer deadline.Stop()
	var lastProduced uint64
	lastT := ld.start
	for {
		select {
		case now := <-deadline.C:
			if tty {
				fmt.Fprintln(opt.progress)
			}
			// A load shorter than unreachableAfter gets the check at its
			// end, before the shutdown would wait out the retries.
			if c.endpoint != "" && tr.live().exported == 0 {
				return unreachable(c, now.Sub(ld.start), tr.live().exportFailures)
			}
			return nil
		case now := <-tick.C:
			inFlight := ld.sample()
			p := ld.sum().produced
			ls := tr.live()
			rate := float64(p-lastProduced) / now.Sub(lastT).Seconds()
			lastProduced, lastT = p, now
			drops, queue := "n/a (silent)", "n/a"
			if ls.dropsKnown {
				drops, queue = group(ls.dropped), group(ls.queued)+" spans"
			}
			line := fmt.Sprintf("[%s] %3.0fs  %s spans/s  produced %s  exported %s  dropped %s  queue %s  runs in flight %s  rss %s",
				mode, now.Sub(ld.start).Seconds(), group(uint64(rate)), group(p), group(ls.exported), drops, queue, group(inFlight), mib(procStatusKB("VmRSS")))
			if ls.exportFailures != 0 {
				line += "  export failures " + group(ls.exportFailures)
			}
			if tty {
				fmt.Fprintf(opt.progress, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(opt.progress, line)
			}
			if opt.sample != nil {
				opt.sample(now.Sub(ld.start))
			}
			if c.endpoint != "" && ls.exported == 0 && now.Sub(ld.start) >= unreachableAfter {
				if err := unreachable(c, now.Sub(ld.start), ls.exportFailures); err != nil {
					if tty {
						fmt.Fprintln(opt.progress)
					}
					return err
				}
			}
		}
	}
}

// fill completes the report once the tracer is shut down: throughput,
// accounting, memory and capture latency.
func (rep *modeReport) fill(ld *load, tr *tracer, m0, m1 memSnap, loadEnd, end time.Time) {
	t := ld.sum()
	rep.LoadSec = loadEnd.Sub(ld.start).Seconds()
	rep.ElapsedSec = end.Sub(ld.start).Seconds()
	rep.Runs = t.runs
	rep.RunsPerSec = float64(t.runs) / rep.LoadSec
	rep.ProducedPerSec = float64(t.produced) / rep.LoadSec
	rep.NodesRefused = t.refused
	rep.RunsInFlightMax = ld.inFlightMax
	rep.RunsInFlightMean = float64(ld.inFlightSum) / float64(max(ld.samples, 1))
	rep.LiveHeapMaxBytes = ld.liveHeapMax
	tr.final(t.produced)
	delivered := rep.Exported
	if rep.Received != nil {
		delivered = *rep.Received
	}
	rep.SpansPerSec = float64(delivered) / rep.ElapsedSec
	rep.NodeSpansPerSec = rep.SpansPerSec * float64(t.nodes) / float64(max(t.produced, 1))
	if rep.ReceivedRootSpans != nil {
		rep.NodeSpansPerSec = float64(delivered-*rep.ReceivedRootSpans) / rep.ElapsedSec
	}
	rep.AllocsPerSpan = float64(m1.allocs-m0.allocs) / float64(max(t.produced, 1))
	rep.BytesPerSpan = float64(m1.bytes-m0.bytes) / float64(max(t.produced, 1))
	rep.CPUNsPerSpan = float64(m1.cpuNs-m0.cpuNs) / float64(max(t.produced, 1))
	rep.GC = gcBetween(m0, m1)
	rep.PeakRSSBytes = procStatusKB("VmHWM")
	h := newHist()
	for _, w := range ld.ws {
		h.Merge(w.hist)
	}
	rep.hist = h
	rep.Latency = latencyOf(h)
	rep.Bottlenecks = bottlenecks(tr.eng)
}

// latencyReport summarises the sampled caller-side cost of a node, from
// StartNode to End with its attributes, usage and logs.
type latencyReport struct {
	Samples int64   `json:"samples"`
	P50     int64   `json:"p50"`
	P99     int64   `json:"p99"`
	P999    int64   `json:"p99_9"`
	Max     int64   `json:"max"`
	Mean    float64 `json:"mean"`
}

func latencyOf(h *hdrhistogram.Histogram) latencyReport {
	return latencyReport{
		Samples: h.TotalCount(), P50: h.ValueAtQuantile(50), P99: h.ValueAtQuantile(99),
		P999: h.ValueAtQuantile(99.9), Max: h.Max(), Mean: h.Mean(),
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// writeHeapProfile writes a heap profile to path, reporting failures on w.
func writeHeapProfile(path string, w io.Writer) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(w, "loadgen:", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		fmt.Fprintln(w, "loadgen:", err)
	}
}
