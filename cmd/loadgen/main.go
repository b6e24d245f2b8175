package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/ringbuf"
)

// config holds the flags.
type config struct {
	duration     time.Duration
	rate         float64
	ramp         time.Duration
	batch        int
	concurrency  int
	workload     string
	latencyScale float64
	workers      int
	nodes        int
	shape        string
	mix          string
	fanout       int
	errorRate    float64
	attrs        int
	payload      int
	tokens       int
	firstFrame   bool
	sample       int
	endpoint     string
	metricsAddr  string
	protocol     string
	mode         string
	json         bool
	plot         string
	logs         bool
	metricsPush  bool // -metrics-push: the OTLP metrics push (off for Jaeger)
	ring         int
	queueBytes   int64
	exportConc   int
	block        bool
	blockTimeout time.Duration
	seed         uint64
	progress     bool
	soak         bool
	restartEvery time.Duration
	failRate     float64
	maxRSS       uint64
	cpuProfile   string
	memProfile   string
	decode       string
	tail         engine.TailPolicy // the -sample-* flags
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	// A flag package cannot parse is run's one line ("loadgen: invalid
	// value "NaN" for flag -nodes: parse error"), as every other refused
	// flag is: package flag printed the error and the whole usage before
	// it, 90 lines burying it. -h prints the usage.
	fs.SetOutput(io.Discard)
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "how long to generate load (per mode)")
	fs.Float64Var(&c.rate, "rate", 5000, "runs started per second, all workers together (the default is a busy agent platform, well within capacity); 0 = unbounded, to find the maximum")
	fs.DurationVar(&c.ramp, "ramp", time.Second, "with -rate, raise the rate linearly from 0 over this long (at most a quarter of -duration), as traffic arrives at a new instance; 0 starts at full rate")
	fs.StringVar(&c.workload, "workload", workloadRealistic, "realistic: nodes take as long as real ones (LLM 0.3-3 s with the first chunk after 0.1-0.8 s, tools and retrieval 20-500 ms, code 1-20 ms, control 0.1-2 ms), driven by timers, so thousands of runs are in flight; synthetic: nodes take no time and each worker advances its runs as fast as it can, for peak throughput; synthetic-v1: synthetic as commit dc34226 recorded it (LLM nodes without GenAI attributes, tool call, first-token cost or chunks: 9 spans a run where synthetic has 11), for a before/after of the same work, -mode flowtel only")
	fs.IntVar(&c.concurrency, "concurrency", 0, "runs in flight at most (open at once); 0 = 10000 with -workload realistic (where -rate x the run's duration sets how many are open), 64 with synthetic")
	fs.Float64Var(&c.latencyScale, "latency-scale", 1, "realistic workload: multiply every node's duration (10 models slow reasoning models: 100,000 runs in flight at 5,000 runs/s)")
	fs.IntVar(&c.workers, "workers", 0, "goroutines driving the runs; 0 = GOMAXPROCS-1 (at least 1), leaving a P to the tracer's pipeline and exporter")
	fs.IntVar(&c.nodes, "nodes", 8, "node executions per run (start and end included)")
	fs.StringVar(&c.shape, "shape", shapeMixed, "DAG shape: chain, fanout, iteration or mixed")
	fs.StringVar(&c.mix, "mix", "llm=30,tool=15,code=15,knowledge=15,decision=10,message=15", "node type mix of the body, type=weight,...")
	fs.IntVar(&c.fanout, "fanout", 3, "parallel branches per fan-out")
	fs.Float64Var(&c.errorRate, "error-rate", 0.01, "fraction of nodes that fail (exception, status error)")
	fs.IntVar(&c.attrs, "attrs", 8, "attributes per node (input, output and config together)")
	fs.IntVar(&c.payload, "payload", 256, "bytes of LLM output and tool results")
	fs.IntVar(&c.tokens, "tokens", 1200, "total tokens per LLM node")
	fs.BoolVar(&c.firstFrame, "first-frame", true, "LLM nodes record their first streamed frame")
	fs.IntVar(&c.sample, "sample", 64, "time one step in every N for the capture latency histogram")
	fs.StringVar(&c.endpoint, "endpoint", "", "HOST:PORT of a real collector or Jaeger; empty = embedded receiver")
	fs.StringVar(&c.metricsAddr, "metrics-addr", "", "serve flowtel's Prometheus /metrics on this HOST:PORT while it runs (e.g. 127.0.0.1:9464)")
	fs.StringVar(&c.protocol, "protocol", "grpc", "grpc or http/protobuf")
	fs.StringVar(&c.mode, "mode", "flowtel", "flowtel, otelsdk (the SDK's batch processor with its defaults, with WithBlocking, and tuned: queue 65,536, batch 4,096, WithBlocking) or both")
	fs.BoolVar(&c.json, "json", false, "print the report as one JSON object")
	fs.StringVar(&c.plot, "plot", "", "write a capture latency percentile plot (SVG) to this file")
	fs.BoolVar(&c.logs, "logs", true, "flowtel also exports each run's trace log as an OTLP log record")
	fs.BoolVar(&c.metricsPush, "metrics-push", true, "flowtel pushes its metrics over OTLP; false for Jaeger, which has no OTLP metrics service (as -logs=false for its logs)")
	fs.IntVar(&c.batch, "batch", engine.DefaultBatchSpans, "flowtel spans per export batch (engine.WithBatch)")
	fs.IntVar(&c.ring, "ring", 0, "flowtel ring slots per shard (power of two); 0 = 64 with -block, else the engine's default, derived from the runs in flight. Under -block at saturation the rings stay full, and a larger ring only holds more records out of cache (4096 halves the rate); under the drop policy a ring smaller than the runs in flight drops bursts of run ends")
	fs.Int64Var(&c.queueBytes, "queue-bytes", 64<<20, "flowtel exporter queue bound in bytes")
	fs.IntVar(&c.exportConc, "export-concurrency", 0, "flowtel exporter concurrent requests; 0 = the exporter's default (2), or 8 in soak")
	fs.BoolVar(&c.block, "block", false, "flowtel: block the caller (up to -block-timeout) instead of dropping when every ring shard is full, as the SDK's WithBlocking does (the exporter always makes the engine's export stage, never a caller, wait for room in its queue: up to -block-timeout with -block, else 1 s)")
	fs.DurationVar(&c.blockTimeout, "block-timeout", 10*time.Second, "with -block, how long a caller and the exporter's queue wait for room before dropping (counted: engine.block_timeout, exporter.block_timeout), in [1ms, 1m]: a lossless maximum-throughput run should not drop because a shared host stalled the process for a second (it was 1 s)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the workflow plans and failures")
	fs.BoolVar(&c.progress, "progress", true, "print a progress line every second")
	fs.BoolVar(&c.soak, "soak", false, "soak: ~80% of capacity, receiver failing and restarting, bounded RSS and goroutines")
	fs.DurationVar(&c.restartEvery, "restart-every", time.Minute, "soak: restart the embedded receiver this often (default: every minute, or 6 times per soak if shorter)")
	fs.Float64Var(&c.failRate, "fail-rate", 0.2, "soak: fraction of receiver calls failed with UNAVAILABLE")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	fs.StringVar(&c.memProfile, "memprofile", "", "write a heap profile, taken at the peak of the load (end of the first mode), to this file")
	fs.StringVar(&c.decode, "receiver-decode", "count", "embedded receiver: full (official protobuf types) or count (protowire walk, no structs)")
	fs.BoolVar(&c.tail.KeepErrors, "sample-errors", false, "flowtel tail sampling: keep every run that failed")
	fs.DurationVar(&c.tail.SlowerThan, "sample-slower", 0, "flowtel tail sampling: keep runs slower than this")
	fs.Float64Var(&c.tail.SlowestFraction, "sample-slowest", 0, "flowtel tail sampling: keep the slowest fraction of each flow (0.01 = 1 %)")
	fs.Float64Var(&c.tail.Ratio, "sample-ratio", 0, "flowtel tail sampling: keep this fraction of the other runs (consistent on the trace id); with no -sample-* flag every run is kept")
	fs.BoolVar(&c.tail.RunLogAlways, "sample-logs-all", false, "flowtel tail sampling: export the run trace log of every run, sampled out or not (engine.TailPolicy.RunLogAlways)")
	maxRSS := fs.Int64("max-rss-mib", 0, "soak: RSS ceiling after warm-up in MiB; 0 = derived from the warm-up")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fmt.Fprintln(stderr, "Usage of loadgen:")
			fs.PrintDefaults()
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.maxRSS = uint64(*maxRSS) << 20
	restartSet := false
	fs.Visit(func(f *flag.Flag) { restartSet = restartSet || f.Name == "restart-every" })
	if c.soak && !restartSet {
		c.restartEvery = min(time.Minute, c.duration/6)
	}
	workloadSet := false
	fs.Visit(func(f *flag.Flag) { workloadSet = workloadSet || f.Name == "workload" })
	if c.soak && !workloadSet {
		c.workload = workloadSynthetic // soak runs at a share of the peak rate
	}
	if c.concurrency == 0 {
		c.concurrency = 64
		if c.workload == workloadRealistic {
			c.concurrency = 10_000
		}
	}
	if c.ring == 0 && c.block {
		c.ring = 64
	}
	if c.workers == 0 {
		// Workers that never block would take every P and starve the
		// pipeline, the exporter and the embedded receiver, measuring
		// the scheduler instead of the tracer: leave them one P.
		c.workers = max(1, runtime.GOMAXPROCS(0)-1)
	}
	var errs []error
	// -soak measures capacity and runs at 80 % of it unless -rate is given.
	rateSet := false
	fs.Visit(func(f *flag.Flag) { rateSet = rateSet || f.Name == "rate" })
	if c.soak && !rateSet {
		c.rate = 0
	}
	check := func(ok bool, format string, a ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, a...))
		}
	}
	check(c.decode == "full" || c.decode == "count", "-receiver-decode %q: want full or count", c.decode)
	check(c.duration > 0, "-duration %v must be positive", c.duration)
	check(c.rate >= 0 && !math.IsInf(c.rate, 1), "-rate %v must be a finite number, not negative (0 = unbounded)", c.rate)
	check(c.ramp >= 0, "-ramp %v must not be negative", c.ramp)
	check(c.blockTimeout >= engine.MinBlockTimeout && c.blockTimeout <= ringbuf.MaxBlockTimeout, "-block-timeout %v must be in [%v, %v] (the engine's shortest wait that is not a drop, the ring's longest)", c.blockTimeout, engine.MinBlockTimeout, ringbuf.MaxBlockTimeout)
	check(c.workload == workloadRealistic || c.workload == workloadSynthetic || c.workload == workloadSyntheticV1, "-workload %q: want realistic, synthetic or synthetic-v1", c.workload)
	check(!(c.workload == workloadSyntheticV1 && c.mode != "flowtel"), "-workload synthetic-v1 reproduces flowtel's workload of commit dc34226: it runs -mode flowtel only")
	check(c.latencyScale > 0 && c.latencyScale <= 1000, "-latency-scale %v must be in (0, 1000]", c.latencyScale)
	check(c.concurrency >= 1 && c.concurrency <= 1<<23, "-concurrency %d must be in [1, 8388608]", c.concurrency)
	check(c.fanout <= 1<<16, "-fanout %d must be at most 65536", c.fanout)
	check(!(c.soak && c.workload != workloadSynthetic), "-soak runs the synthetic workload (it soaks at a share of the peak rate)")
	check(c.workers >= 1 && c.workers <= maxWorkers, "-workers %d must be in [1, %d]", c.workers, maxWorkers)
	check(c.nodes >= 1 && c.nodes <= 1<<16, "-nodes %d must be in [1, 65536]", c.nodes)
	check(c.ring >= 0, "-ring %d must not be negative", c.ring)
	check(c.batch >= 1, "-batch %d must be at least 1", c.batch)
	check(c.fanout >= 1, "-fanout %d must be at least 1", c.fanout)
	check(c.errorRate >= 0 && c.errorRate <= 1, "-error-rate %v must be in [0, 1]", c.errorRate)
	check(c.attrs >= 0 && c.attrs <= 1024, "-attrs %d must be in [0, 1024]", c.attrs)
	check(c.payload >= 0 && c.payload <= maxPayload, "-payload %d must be in [0, %d]", c.payload, maxPayload)
	check(c.tokens >= 0 && c.tokens <= maxTokens, "-tokens %d must be in [0, %d]", c.tokens, maxTokens)
	check(*maxRSS >= 0 && *maxRSS <= 1<<30, "-max-rss-mib %d must be in [0, %d]", *maxRSS, 1<<30)
	check(c.sample >= 1, "-sample %d must be at least 1", c.sample)
	check(c.protocol == "grpc" || c.protocol == "http/protobuf", "-protocol %q: want grpc or http/protobuf", c.protocol)
	check(c.mode == "flowtel" || c.mode == "otelsdk" || c.mode == "both", "-mode %q: want flowtel, otelsdk or both", c.mode)
	check(c.failRate >= 0 && c.failRate <= 1, "-fail-rate %v must be in [0, 1]", c.failRate)
	check(!(c.soak && c.duration < minSoak), "-soak -duration %v: want at least %v (RSS and goroutines are judged on samples taken every second after a warm-up of half the soak at most)", c.duration, minSoak)
	check(c.soak && c.duration < minSoak || c.restartEvery >= minRestartEvery, "-restart-every %v must be at least %v", c.restartEvery, minRestartEvery)
	check(!(c.mode != "flowtel" && c.protocol != "grpc"), "-mode %s needs -protocol grpc: the OTLP/HTTP exporter of the SDK is not a dependency of this module", c.mode)
	check(!(c.soak && c.endpoint != ""), "-soak needs the embedded receiver (no -endpoint)")
	// An -endpoint whose address cannot be told ran the SDK modes for
	// -duration and then their shutdown's two minutes of retries, its
	// reachability never checked; flowtel's exporter refused it once the
	// mode had started, naming Endpoint.
	if _, err := endpointAddr(c.endpoint); c.endpoint != "" && err != nil {
		errs = append(errs, fmt.Errorf("-endpoint %s: %w", export.RedactURL(c.endpoint), err))
	}
	check(!(c.soak && c.mode != "flowtel"), "-soak runs flowtel only")
	check(c.queueBytes >= 0 && c.queueBytes <= maxQueueBytes, "-queue-bytes %d must be in [0, %d]", c.queueBytes, int64(maxQueueBytes))
	check(c.exportConc >= 0 && c.exportConc <= export.MaxConcurrency, "-export-concurrency %d must be in [0, %d]", c.exportConc, export.MaxConcurrency)
	// The tail policy is checked by the engine's own rules, one flag at a
	// time so that the message names it: refused only by engine.New, a bad
	// -sample-* value exited 1 once the mode had started.
	for _, f := range [...]struct {
		flag string
		p    engine.TailPolicy
	}{
		{"sample-slower", engine.TailPolicy{SlowerThan: c.tail.SlowerThan}},
		{"sample-slowest", engine.TailPolicy{SlowestFraction: c.tail.SlowestFraction}},
		{"sample-ratio", engine.TailPolicy{Ratio: c.tail.Ratio}},
	} {
		if err := f.p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("-%s: %w", f.flag, err))
		}
	}
	check(!c.tail.RunLogAlways || c.logs, "-sample-logs-all exports the run trace logs of the runs sampled out: it needs -logs")
	// Output files are written after the load (the plot and the heap
	// profile at its end): a path that cannot be created is refused now,
	// not once the measurement is over.
	for _, o := range [...]struct{ flag, path string }{{"plot", c.plot}, {"memprofile", c.memProfile}, {"cpuprofile", c.cpuProfile}} {
		if o.path == "" {
			continue
		}
		if fi, err := os.Stat(o.path); err == nil && fi.IsDir() {
			errs = append(errs, fmt.Errorf("-%s %q is a directory", o.flag, o.path))
		} else if fi, err := os.Stat(filepath.Dir(o.path)); err != nil || !fi.IsDir() {
			errs = append(errs, fmt.Errorf("-%s %q: its directory does not exist", o.flag, o.path))
		}
	}
	if _, _, err := parseMix(c.mix); err != nil {
		errs = append(errs, err)
	}
	if c.shape != shapeChain && c.shape != shapeFanout && c.shape != shapeIteration && c.shape != shapeMixed {
		errs = append(errs, fmt.Errorf("-shape %q: want chain, fanout, iteration or mixed", c.shape))
	}
	// The engine's own rules judge what the flags make of its settings
	// (-batch, -ring, and the memory -concurrency and -nodes take), here
	// rather than once the flowtel mode has started, without building an
	// engine: that allocated its rings and arena (168 ms and 128 MiB for
	// -ring 4194304).
	if len(errs) == 0 && c.mode != "otelsdk" {
		if _, _, err := engineOptions(c); err != nil {
			errs = append(errs, engineFlagError(c, err))
		}
	}
	return c, errors.Join(errs...)
}

// engineFlagError names the flag behind err, an engine's refusal of the
// options the flags make: -ring when the engine takes them with the ring
// it derives itself, with the largest power of two up to -ring that it
// takes (asked of engine.Validate, which holds the rules: the shards and
// the bytes up front are the engine's); -batch for a batch it refuses;
// else the flags the other settings come from.
func engineFlagError(c *config, err error) error {
	if c.ring > 0 {
		d := *c
		d.ring = 0
		if _, _, err0 := engineOptions(&d); err0 == nil {
			for p := max(1<<(bits.Len(uint(c.ring))-1), 2); p >= 2; p /= 2 {
				d.ring = p
				if _, _, err1 := engineOptions(&d); err1 == nil {
					return fmt.Errorf("-ring %d: %w; -ring %d works here (0 derives the ring from -concurrency)", c.ring, err, p)
				}
			}
			return fmt.Errorf("-ring %d: %w; -ring 0 derives it from -concurrency", c.ring, err)
		}
	}
	if errors.Is(err, engine.ErrInvalidBatch) {
		return fmt.Errorf("-batch %d: %w", c.batch, err)
	}
	return fmt.Errorf("-concurrency %d, -nodes %d: %w", c.concurrency, c.nodes, err)
}

// The largest -workers, -payload, -tokens and -queue-bytes: a worker is a goroutine (on
// 2 vCPUs a few suffice), the payload is built once in memory and the
// engine cuts a value at 16 MiB at most (Limits.ValueBytes), and a run's
// tokens are summed into an int64.
//
// A soak needs minSoak to take samples past its warm-up, and a receiver
// restart takes longer than minRestartEvery.
const (
	minSoak         = 3 * time.Second
	minRestartEvery = 100 * time.Millisecond
	maxWorkers      = 1 << 16
	maxPayload      = 16 << 20
	maxTokens       = 1 << 30
	// maxQueueBytes keeps memoryBound, which counts four times the
	// queue, from wrapping: 1 TiB, past any host this runs on.
	maxQueueBytes = 1 << 40
)

// kv is one precomputed attribute of the workload.
type kv struct{ key, val string }

// workload is the content every node and run carries, built once.
type workload struct {
	in, out, cfg              []kv
	payload, answer, question string
	tokens                    int
	firstFrame                bool
}

func newWorkload(c *config) *workload {
	wl := &workload{
		payload: payload(c.payload), answer: "Here is the summary you asked for.",
		question: "Summarise the quarterly report and list the three largest risks.",
		tokens:   c.tokens, firstFrame: c.firstFrame,
	}
	nin := (c.attrs + 1) / 2
	nout := c.attrs / 4
	ncfg := c.attrs - nin - nout
	vals := []string{"gpt-4o", "0.7", "zh-CN", "retrieval", "https://kb.internal/doc/42", "user question", "json", "42"}
	for i := 0; i < nin; i++ {
		wl.in = append(wl.in, kv{"in" + strconv.Itoa(i), vals[i%len(vals)]})
	}
	for i := 0; i < nout; i++ {
		wl.out = append(wl.out, kv{"out" + strconv.Itoa(i), vals[(i+3)%len(vals)]})
	}
	for i := 0; i < ncfg; i++ {
		wl.cfg = append(wl.cfg, kv{"cfg" + strconv.Itoa(i), vals[(i+5)%len(vals)]})
	}
	return wl
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0 // -h: the flags are printed, as package flag's commands exit
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	ctx := context.Background()
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	if c.soak {
		return runSoak(ctx, c, stdout, stderr)
	}
	var modes []string
	switch c.mode {
	case "flowtel":
		modes = []string{"flowtel"}
	case "otelsdk":
		modes = []string{"otelsdk", "otelsdk-blocking", "otelsdk-tuned"}
	default:
		modes = []string{"flowtel", "otelsdk", "otelsdk-blocking", "otelsdk-tuned"}
	}
	progress := io.Writer(stderr)
	if !c.progress {
		progress = io.Discard
	}
	var reports []*modeReport
	ok := true
	for _, m := range modes {
		rep, err := runMode(ctx, c, m, modeOptions{progress: progress})
		if err != nil {
			fmt.Fprintf(stderr, "loadgen: mode %s: %v\n", m, err)
			return 1
		}
		reports = append(reports, rep)
		ok = ok && rep.Reconciled
		runtime.GC()
	}
	if c.plot != "" {
		if err := writePlot(c.plot, reports); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
	}
	if c.json {
		if err := writeJSON(stdout, c, reports); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 1
		}
	} else {
		writeText(stdout, c, reports)
	}
	if !ok {
		var bad []string
		for _, r := range reports {
			if !r.Reconciled {
				bad = append(bad, r.Mode)
			}
		}
		fmt.Fprintf(stderr, "loadgen: accounting does not reconcile for %s\n", strings.Join(bad, ", "))
		return 1
	}
	return 0
}
