package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/flowtel/flowtel/bench"
	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
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
}

// tracerStats is a live view of a tracer's accounting for progress lines.
type tracerStats struct {
	exported, dropped, queued uint64
	dropsKnown                bool
}

// runMode generates load through one tracer for c.duration, flushes, and
// returns the report.
func runMode(ctx context.Context, c *config, mode string, opt modeOptions) (*modeReport, error) {
	types, cum, err := parseMix(c.mix)
	if err != nil {
		return nil, err
	}
	pl := &planner{rng: rand.New(rand.NewPCG(c.seed, 1)), types: types, cum: cum, nodes: c.nodes, fanout: c.fanout}
	plans, err := pl.plans(c.shape)
	if err != nil {
		return nil, err
	}
	wl := newWorkload(c)

	endpoint, protocol := c.endpoint, c.protocol
	var rc *bench.Receiver
	if endpoint == "" {
		rc, err = bench.StartReceiver(bench.ReceiverConfig{Protocol: protocol, FailRate: opt.failRate, Decode: c.decode})
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		endpoint = rc.Endpoint()
	}

	rep := &modeReport{Mode: mode, Endpoint: endpoint, Protocol: protocol, DroppedBy: map[string]uint64{}}
	var (
		drv      driver
		eng      *engine.Engine
		live     func() tracerStats
		shutdown func(context.Context) error
		final    func(produced uint64)
	)
	switch mode {
	case "flowtel":
		xcfg := export.Config{Protocol: protocol, Endpoint: endpoint, Insecure: true, QueueBytes: c.queueBytes, Concurrency: c.exportConc,
			Release: encode.PutBuffer}
		if opt.retry != nil {
			xcfg.Retry = *opt.retry
		}
		if c.block {
			xcfg.Block, xcfg.BlockTimeout = true, time.Second
		}
		exp, err := export.New(xcfg)
		if err != nil {
			return nil, err
		}
		res := encode.Resource{ServiceName: "loadgen", HostIP: "127.0.0.1"}
		sink := engine.NewOTLPSink(exp, res, c.logs)
		policy, timeout := engine.DropNewest, time.Duration(0)
		if c.block {
			policy, timeout = engine.Block, time.Second
		}
		opts := []engine.Option{
			engine.WithSink(sink), engine.WithResource(res), engine.WithOverflow(policy, timeout),
			engine.WithBatch(c.batch, engine.DefaultFlushInterval),
			engine.WithSID(sid.Config{Sub: "spf", Location: "hf", IP: "127.0.164.187", Port: "20000"}),
			engine.WithExporter(exp), // OTLP metrics too, and the exporter's health in -metrics-addr
			engine.WithLimits(engine.Limits{RunsInFlight: runsInFlight(c), NodesPerRun: max(1024, c.nodes)}),
		}
		if c.ring > 0 {
			opts = append(opts, engine.WithRingCapacity(c.ring))
		}
		eng, err = engine.New(opts...)
		if err != nil {
			_ = exp.Shutdown(ctx)
			return nil, err
		}
		drv = newFlowtelDriver(eng, wl)
		live = func() tracerStats {
			s := eng.Stats()
			x := exp.Stats().Signals[export.Traces]
			return tracerStats{exported: x.Exported, dropped: s.Dropped + x.DroppedTotal() + x.Rejected, queued: s.InFlight + x.InFlight, dropsKnown: true}
		}
		shutdown = eng.Shutdown
		if c.metricsAddr != "" {
			stop, err := serveMetrics(c.metricsAddr, eng)
			if err != nil {
				_ = eng.Shutdown(ctx)
				return nil, err
			}
			shutdown = func(ctx context.Context) error { defer stop(); return eng.Shutdown(ctx) }
		}
		rep.MemoryBound = memoryBound(c)
		final = func(produced uint64) { rep.fillFlowtel(produced, eng.Stats(), exp.Stats(), sink.EncoderStats(), rc, c) }
	case "otelsdk", "otelsdk-blocking":
		if protocol != "grpc" {
			return nil, fmt.Errorf("the SDK comparison needs -protocol grpc")
		}
		tp, ce, err := newSDKProvider(ctx, endpoint, mode == "otelsdk-blocking")
		if err != nil {
			return nil, err
		}
		drv = newSDKDriver(tp, wl)
		live = func() tracerStats { return tracerStats{exported: ce.exported.Load()} }
		shutdown = tp.Shutdown
		final = func(produced uint64) { rep.fillSDK(produced, ce.exported.Load(), ce.failed.Load(), rc) }
	default:
		return nil, fmt.Errorf("unknown mode %q", mode)
	}

	workers := min(c.workers, c.concurrency)
	ctrs := make([]counters, workers)
	ws := make([]*worker, workers)
	var stop atomic.Bool
	var lim *limiter
	base := time.Now()
	if c.rate > 0 {
		lim = &limiter{start: base, interval: 1e9 / c.rate, ramp: float64(min(c.ramp, c.duration/4)), stop: &stop}
	}
	for i := range ws {
		ws[i] = &worker{
			id: i, rng: rand.New(rand.NewPCG(c.seed, uint64(i)+2)), hist: newHist(), every: c.sample,
			base: base, ctr: &ctrs[i], plans: plans, errRate: c.errorRate,
		}
	}
	sum := func() (produced, nodes, runs, refused uint64) {
		for i := range ctrs {
			produced += ctrs[i].produced.Load()
			nodes += ctrs[i].nodes.Load()
			runs += ctrs[i].runs.Load()
			refused += ctrs[i].refused.Load()
		}
		return
	}

	// Return the previous mode's freed memory to the OS first, so that the
	// peak RSS of this mode is its own.
	debug.FreeOSMemory()
	peakReset := resetPeakRSS()
	m0 := takeMem()
	start := time.Now()
	var wg sync.WaitGroup
	for i, w := range ws {
		n := c.concurrency / workers
		if i < c.concurrency%workers {
			n++
		}
		wg.Add(1)
		go func() { defer wg.Done(); w.loop(drv, n, lim, &stop) }()
	}

	// Restart the receiver on schedule (soak).
	restartDone := make(chan struct{})
	stopRestart := make(chan struct{})
	go func() {
		defer close(restartDone)
		if rc == nil || opt.restartEvery <= 0 {
			return
		}
		t := time.NewTicker(opt.restartEvery)
		defer t.Stop()
		for {
			select {
			case <-stopRestart:
				return
			case <-t.C:
				if err := rc.Restart(100 * time.Millisecond); err != nil {
					fmt.Fprintln(opt.progress, "loadgen: receiver restart:", err)
				}
			}
		}
	}()

	tty := isTerminal(opt.progress)
	tick := time.NewTicker(time.Second)
	deadline := time.NewTimer(c.duration)
	var lastProduced uint64
	lastT := start
loop:
	for {
		select {
		case <-deadline.C:
			break loop
		case now := <-tick.C:
			p, _, _, _ := sum()
			ls := live()
			rate := float64(p-lastProduced) / now.Sub(lastT).Seconds()
			lastProduced, lastT = p, now
			drops := "n/a (silent)"
			queue := "n/a"
			if ls.dropsKnown {
				drops = group(ls.dropped)
				queue = group(ls.queued) + " spans"
			}
			line := fmt.Sprintf("[%s] %3.0fs  %s spans/s  produced %s  exported %s  dropped %s  queue %s  rss %s",
				mode, now.Sub(start).Seconds(), group(uint64(rate)), group(p), group(ls.exported), drops, queue, mib(procStatusKB("VmRSS")))
			if tty {
				fmt.Fprintf(opt.progress, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(opt.progress, line)
			}
			if opt.sample != nil {
				opt.sample(now.Sub(start))
			}
		}
	}
	tick.Stop()
	if c.memProfile != "" {
		writeHeapProfile(c.memProfile, opt.progress)
		c.memProfile = ""
	}
	stop.Store(true)
	wg.Wait()
	loadEnd := time.Now()
	close(stopRestart)
	<-restartDone
	if tty {
		fmt.Fprintln(opt.progress)
	}
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = shutdown(sctx)
	cancel()
	end := time.Now()
	m1 := takeMem()
	if err != nil {
		fmt.Fprintf(opt.progress, "loadgen: %s shutdown: %v\n", mode, err)
	}

	produced, nodes, runs, refused := sum()
	rep.LoadSec = loadEnd.Sub(start).Seconds()
	rep.ElapsedSec = end.Sub(start).Seconds()
	rep.Runs = runs
	rep.RunsPerSec = float64(runs) / rep.LoadSec
	rep.ProducedPerSec = float64(produced) / rep.LoadSec
	rep.NodesRefused = refused
	final(produced)
	delivered := rep.Exported
	if rep.Received != nil {
		delivered = *rep.Received
	}
	rep.SpansPerSec = float64(delivered) / rep.ElapsedSec
	rep.NodeSpansPerSec = rep.SpansPerSec * float64(nodes) / float64(max(produced, 1))
	if rep.ReceivedRootSpans != nil {
		rep.NodeSpansPerSec = float64(delivered-*rep.ReceivedRootSpans) / rep.ElapsedSec
	}
	rep.AllocsPerSpan = float64(m1.allocs-m0.allocs) / float64(max(produced, 1))
	rep.BytesPerSpan = float64(m1.bytes-m0.bytes) / float64(max(produced, 1))
	rep.GC = gcBetween(m0, m1)
	rep.PeakRSSBytes = procStatusKB("VmHWM")
	rep.PeakRSSSinceStart = !peakReset
	h := newHist()
	for _, w := range ws {
		h.Merge(w.hist)
	}
	rep.hist = h
	rep.Latency = latencyOf(h)
	rep.Bottlenecks = bottlenecks(eng)
	return rep, nil
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
