package engine

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/ringbuf"
	"github.com/flowtel/flowtel/sid"
)

// Sentinel errors returned by New for invalid options. They are wrapped
// with the value that was refused; test with errors.Is. The ring settings
// (WithShards, WithRingCapacity, WithOverflow) are ringbuf's, checked by
// ringbuf's one set of rules: their sentinels are ringbuf's.
//
// As in every flowtel package, a sentinel's message starts with its
// package's name, and an error wrapping it adds the refused value after
// it, never a second prefix.
var (
	ErrCapacityNotPowerOfTwo = ringbuf.ErrCapacityNotPowerOfTwo
	ErrCapacityRange         = ringbuf.ErrCapacityRange
	ErrInvalidShards         = ringbuf.ErrShards
	ErrBlockTimeout          = ringbuf.ErrBlockTimeout
	ErrInvalidPolicy         = ringbuf.ErrPolicy
	ErrInvalidBatch          = errors.New("engine: invalid batch size or flush interval")
	ErrInvalidLimit          = errors.New("engine: limit out of range")
	ErrInvalidIdleTimeout    = errors.New("engine: idle timeout must be at least 1ms")
	ErrShutdown              = errors.New("engine: shut down")
	ErrNotStarted            = errors.New("engine: not made by New (a zero Engine)")
	ErrMemoryLimit           = errors.New("engine: memory limit too small for the other settings")
)

// The largest settings New accepts. Each is far past any workload we
// measured and small enough that nothing derived from it overflows or
// allocates absurdly: RunsInFlight indexes the arena with 32 bits,
// NodesPerRun sizes a directory a huge run allocates (8 bytes per 32
// nodes), a value of ValueBytes could not fit a 4 MiB gRPC request four
// times over, and the ring's slots are allocated up front.
const (
	maxRunsInFlight = 1 << 24
	maxNodesPerRun  = 1 << 20
	maxAttrs        = 1 << 16
	maxEvents       = 1 << 16
	maxEventAttrs   = maxAttrs
	maxValueBytes   = 16 << 20
	maxRunBytes     = 1 << 30
	maxBatchSpans   = 1 << 20
)

// MaxLimits returns the largest Limits New accepts, so that a
// configuration read from elsewhere (otlp.NewFromEnv) can refuse a value
// naming where it came from.
func MaxLimits() Limits {
	return Limits{RunsInFlight: maxRunsInFlight, NodesPerRun: maxNodesPerRun, Attrs: maxAttrs,
		Events: maxEvents, EventAttrs: maxEventAttrs, ValueBytes: maxValueBytes, RunBytes: maxRunBytes}
}

// minFlushInterval is the shortest WithBatch interval: an idle pipeline
// wakes once per interval, so a shorter one would spin a core.
const minFlushInterval = time.Millisecond

// minIdleTimeout is the shortest WithIdleTimeout: a shorter one is a
// number of seconds or minutes written without its unit, and would close
// every run as incomplete within the reaper's first pass (10 ms).
const minIdleTimeout = time.Millisecond

// MinBlockTimeout is the shortest wait WithOverflow(Block, timeout)
// accepts. A caller blocked on a full ring waits for the pipeline to drain
// it: the pipeline must be woken and scheduled, tens of microseconds on an
// idle machine and up to tens of milliseconds on a loaded one (a woken
// pipeline waited 41.8 ms for a CPU in a traced burst), before a slot
// frees. A shorter timeout drops nearly every run a full ring meets, as
// DropNewest does, after a wait and a timer for nothing: it is refused,
// most often a number of milliseconds written without its unit
// (WithOverflow(Block, 10) is 10ns).
const MinBlockTimeout = time.Millisecond

// Policy says what happens when a shard's ring is full.
type Policy = ringbuf.Policy

// Overflow policies. DropNewest is the default: the caller is never blocked.
const (
	DropNewest = ringbuf.DropNewest
	DropOldest = ringbuf.DropOldest
	Block      = ringbuf.Block
)

// Limits bound what one run or node may hold. What passes a limit is
// truncated or dropped and counted in Stats, never silently.
type Limits struct {
	// RunsInFlight bounds runs started and not yet exported (default 16384):
	// the runs open at once plus those ended and waiting for the sink
	// (about a flush interval's worth, more after a burst of run ends).
	// The rings and the memory the engine may hold are derived from it.
	// Set it to about three times the runs expected open at once (the
	// loadgen uses 3 x -concurrency + 4096): when thousands of runs end
	// together, their export can take longer than the next wave of ends,
	// and both waves wait beside the open runs. With 10,000 runs open and
	// 2x, synthetic waves at half of capacity were refused 11,547 spans
	// (engine.run_limit); with 3x none of 4,418,482.
	RunsInFlight int
	// NodesPerRun bounds node executions per run (default 1024).
	NodesPerRun int
	// Attrs bounds the attributes of a node (input, output and config
	// together) and the srv, srv_tag and extra attributes of a run (default 128).
	Attrs int
	// Events bounds log entries and exceptions per node or run (default
	// 128). The first ones are kept, in their order, and later ones are
	// dropped and counted (Stats.EventsDropped, the span's dropped events
	// count), where OpenTelemetry Go's SDK keeps the newest: the run log's
	// logs read as the original's began, and an error past the bound still
	// sets the status and its message.
	Events int
	// EventAttrs bounds the attributes of one event given as data
	// (Node.InfoEvent, ErrorEvent, and the OpenTelemetry bridge's AddEvent
	// and RecordError on a node or a run), OpenTelemetry's attributes per
	// span event (default 128); those past it are dropped and counted as
	// Limits.Attrs counts its own (Stats.AttrsDropped). Each kept one on a
	// node still counts against Limits.Attrs.
	EventAttrs int
	// ValueBytes bounds the bytes of one string or bytes value; longer
	// values are cut at a UTF-8 boundary (default 256 KiB). A caller's
	// tracestate is not cut by it: a run forwards it whole.
	ValueBytes int
	// RunBytes bounds the bytes of the strings and bytes values of one
	// run and its nodes in all (default 16 MiB). Strings are referenced,
	// not copied, so one document given to every node costs its owner its
	// size once but the encoder once per reference: past the bound, the
	// pipeline cuts values, in the run log's order, and counts each cut in
	// Stats.ValuesTruncated. Identity strings (ids, names, attribute keys,
	// next ids) keep their first 128 bytes, or fewer when the run has so
	// many that those would not fit: the bound holds whatever the ids.
	// Strings the run's log or spans write more than once count as many
	// times: sid, app_id, uid, chat_id and the tracestate (cut by whole
	// members) once per span, the flow id and each node's id, type and
	// name twice. The th a tail Ratio writes into the tracestate of a run
	// it keeps comes after the cut: at most 21 bytes a span more.
	RunBytes int
}

type config struct {
	shards        int
	capacity      int
	policy        Policy
	blockTimeout  time.Duration
	batchSpans    int
	flushInterval time.Duration
	idleTimeout   time.Duration
	limits        Limits
	resource      encode.Resource
	sink          Sink
	errorHandler  func(error)
	sid           *sid.Config
	stackTraces   bool
	metricsOut    MetricsExporter
	metrics       MetricsConfig
	memLimit      int64 // 0: derived from the other settings
	sampler       Sampler
	tail          TailPolicy

	genAISpanNames bool // WithGenAISpanNames
}

// The batch an engine gathers unless WithBatch says otherwise.
const (
	DefaultBatchSpans    = 512
	DefaultFlushInterval = 200 * time.Millisecond
)

func defaultConfig() config {
	return config{
		shards:        0, // GOMAXPROCS, ringbuf's default
		capacity:      0, // derived from Limits.RunsInFlight: see ringCapacity
		policy:        DropNewest,
		batchSpans:    DefaultBatchSpans,
		flushInterval: DefaultFlushInterval,
		idleTimeout:   5 * time.Minute,
		limits: Limits{
			RunsInFlight: 16384,
			NodesPerRun:  1024,
			Attrs:        128,
			Events:       128,
			EventAttrs:   128,
			ValueBytes:   256 << 10,
			RunBytes:     16 << 20,
		},
		metrics: defaultMetricsConfig(),
	}
}

func (c *config) validate() error {
	if c.batchSpans < 1 || c.flushInterval < minFlushInterval {
		return fmt.Errorf("%w: batch %d (at least 1), interval %v (at least %v)", ErrInvalidBatch, c.batchSpans, c.flushInterval, minFlushInterval)
	}
	if c.idleTimeout < minIdleTimeout {
		return fmt.Errorf("%w: %v is under %v (a Duration counts nanoseconds: WithIdleTimeout(300) is 300ns)", ErrInvalidIdleTimeout, c.idleTimeout, minIdleTimeout)
	}
	l := c.limits
	for _, v := range []struct {
		name   string
		n, max int
	}{
		{"RunsInFlight", l.RunsInFlight, maxRunsInFlight},
		{"NodesPerRun", l.NodesPerRun, maxNodesPerRun},
		{"Attrs", l.Attrs, maxAttrs},
		{"Events", l.Events, maxEvents},
		{"EventAttrs", l.EventAttrs, maxEventAttrs},
		{"ValueBytes", l.ValueBytes, maxValueBytes},
		{"RunBytes", l.RunBytes, maxRunBytes},
	} {
		if v.n < 1 || v.n > v.max {
			return fmt.Errorf("%w: Limits.%s = %d is not between 1 and %d", ErrInvalidLimit, v.name, v.n, v.max)
		}
	}
	if c.batchSpans > maxBatchSpans {
		return fmt.Errorf("%w: batch %d is above %d", ErrInvalidBatch, c.batchSpans, maxBatchSpans)
	}
	if nilPointer(c.sink) {
		return fmt.Errorf("%w: WithSink(%T(nil))", ErrNilSink, c.sink)
	}
	if t, ok := c.sink.(*TeeSink); ok && len(t.sinks) == 0 {
		return fmt.Errorf("%w: WithSink(&TeeSink{}), a zero TeeSink: make it with Tee", ErrNilSink)
	}
	if nilPointer(c.metricsOut) {
		return fmt.Errorf("%w: WithMetricsExporter(%T(nil))", ErrNilSink, c.metricsOut)
	}
	if err := c.validateRing(); err != nil {
		return err
	}
	if c.policy == Block && c.blockTimeout < MinBlockTimeout {
		return fmt.Errorf("%w: WithOverflow(Block, %v) is under %v, where the wait acts as a drop (a Duration counts nanoseconds: WithOverflow(Block, 10) is 10ns)",
			ErrBlockTimeout, c.blockTimeout, MinBlockTimeout)
	}
	if err := c.metrics.validate(); err != nil {
		return err
	}
	return nil
}

// validateRing checks the ring settings with ringbuf's rules and resolves
// the unset ones: shards to GOMAXPROCS, the capacity to the one derived
// from Limits.RunsInFlight (ringCapacity).
func (c *config) validateRing() error {
	rc := ringbuf.Config[*runRecord]{Shards: c.shards, Capacity: c.capacity, Policy: c.policy, BlockTimeout: c.blockTimeout}
	derive := rc.Capacity == 0
	if err := rc.Validate(); err != nil {
		return err
	}
	c.shards, c.capacity = rc.Shards, rc.Capacity
	if derive {
		c.capacity = ringCapacity(c.shards, c.limits.RunsInFlight, c.policy)
	}
	return nil
}

// MemoryUser is implemented by a Sink that holds memory of its own (an
// exporter's queue): New takes MemoryBytes out of the engine's memory
// limit, so that one budget covers both.
type MemoryUser interface {
	MemoryBytes() int64
}

// sinkBytes returns what the sink says it may hold.
func (c *config) sinkBytes() int64 {
	if u, ok := c.sink.(MemoryUser); ok {
		return max(u.MemoryBytes(), 0)
	}
	return 0
}

// fixedBytes is what New allocates up front: the rings' slots and the arena.
func (c *config) fixedBytes() int64 {
	return int64(c.shards)*int64(c.capacity)*ringSlotBytes + int64(c.limits.RunsInFlight)*arenaSlotBytes
}

// maxFixedBytes bounds what New allocates up front.
const maxFixedBytes = 1 << 30

// ringSlotBytes is the size of one ring slot (a sequence number and a pointer).
const ringSlotBytes = 16

// The default memory limit: room for every run in flight holding
// defaultRunNodes node records, between minDefaultMemory and
// maxDefaultMemory (with the defaults, about 730 MiB), plus the rings, the
// arena and what the sink holds. defaultRunNodes is 8 nodes with a call
// below each (StartChild: an LLM node's tool call), and a reused run
// record keeps the node records of the largest run it held: with room for
// only 8 a run, the bytes refused runs before Limits.RunsInFlight did
// (TestDefaultMemoryHoldsRunsInFlight), and the realistic loadgen
// workload with the engine's defaults dropped 0.4 % of its spans as
// engine.memory_limit at half of capacity with 10,000 runs in flight.
const (
	defaultRunNodes  = 16
	minDefaultMemory = 64 << 20
	maxDefaultMemory = 1 << 30
)

// memoryLimit returns the bytes the engine's records may take: the limit
// set by WithMemoryLimit or derived, less what the sink holds. It refuses
// a limit that leaves no room for a run of defaultRunNodes nodes beside
// the rings, the arena and the sink.
func (c *config) memoryLimit() (int64, error) {
	sink := c.sinkBytes()
	run := runRecordBytes + nodeChunkBytes + defaultRunNodes*nodeRecordBytes
	fixed := c.fixedBytes()
	if fixed > maxFixedBytes {
		return 0, fmt.Errorf("%w: the rings and arena would take %d bytes up front (WithShards x WithRingCapacity x %d + Limits.RunsInFlight x %d), above %d",
			ErrMemoryLimit, fixed, ringSlotBytes, arenaSlotBytes, int64(maxFixedBytes))
	}
	total := c.memLimit
	if total == 0 {
		total = min(max(int64(c.limits.RunsInFlight)*run, minDefaultMemory), maxDefaultMemory) + fixed + sink
	}
	if total < 0 || total < fixed+sink+run {
		return 0, fmt.Errorf("%w: WithMemoryLimit(%d) leaves no room for a run beside the rings and arena (%d bytes: shards x ring capacity x %d + Limits.RunsInFlight x %d) and the sink (%d bytes)",
			ErrMemoryLimit, total, fixed, ringSlotBytes, arenaSlotBytes, sink)
	}
	return total - sink, nil
}

// WithMemoryLimit bounds, in bytes, what the engine holds: the rings, the
// arena, every run and node record with its attribute arrays and copied
// Bytes values, and the memory the sink says it holds (MemoryUser: the
// OTLP exporter's queue). A run, node or Bytes value that would need
// memory past it is refused and counted (DropMemoryLimit for runs and
// nodes, ValuesTruncated for values). Records unused for a few seconds are
// freed, so a burst's memory goes back after it. The default is derived
// from the other settings (see Stats.MemoryLimit).
func WithMemoryLimit(bytes int64) Option {
	return optionFunc(func(c *config) {
		c.memLimit = bytes
		if bytes == 0 {
			c.memLimit = -1 // explicit zero: refused, not the default
		}
	})
}

// nilPointer reports whether v holds a nil pointer (or other nil
// reference) in a non-nil interface: WithSink((*MySink)(nil)), which a
// conditional assignment leaves. Its first Export panicked on the export
// stage's goroutine, ending the process (TestTypedNilSink); New refuses it.
func nilPointer(v any) bool {
	if v == nil {
		return false
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		return rv.IsNil()
	}
	return false
}

// Option configures an Engine.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// apply applies opts in order, skipping nil ones (a nil Option panicked in
// New: TestNilOption).
func (c *config) apply(opts []Option) {
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
}

// WithShards sets the number of ring shards, 1 to ringbuf.MaxShards; 0,
// the default, is GOMAXPROCS.
func WithShards(n int) Option { return optionFunc(func(c *config) { c.shards = n }) }

// WithRingCapacity sets the slots per shard, a power of two from 2 to
// ringbuf.MaxCapacity (and within the 1 GiB New allocates up front at
// most). 0, the default, derives it from Limits.RunsInFlight: by default it
// is derived from Limits.RunsInFlight (see New): under DropNewest and
// DropOldest the shards together hold every run that may be in flight, so
// no burst of run ends, however large, can overflow them; a slot is a
// pointer, 16 bytes, and the records themselves are bounded by
// RunsInFlight whatever the ring. Under Block the rings are the
// backpressure that must reach Run.End before RunsInFlight refuses new
// runs, so they hold at most a quarter of it, and at most 1024 per shard.
//
// A smaller ring set here drops (DropNewest) a burst of run ends larger
// than it. With Block under sustained overload the rings stay full, and a
// larger ring only holds more records out of the CPU caches: on 2 vCPUs,
// 64 slots delivered about twice the spans per second of 4096 (see
// PERFORMANCE.md).
func WithRingCapacity(n int) Option { return optionFunc(func(c *config) { c.capacity = n }) }

// WithOverflow sets what happens when a shard is full: DropNewest (default),
// DropOldest, or Block, which waits up to timeout (from MinBlockTimeout,
// 1 ms: a shorter wait acts as a drop; to at most a minute: a longer wait
// would stall the workflow behind it) and then drops.
func WithOverflow(p Policy, timeout time.Duration) Option {
	return optionFunc(func(c *config) { c.policy, c.blockTimeout = p, timeout })
}

// WithBatch sets how many spans the pipeline gathers before it hands them
// to the sink, and how old a partial batch may grow before it is handed
// over anyway (the latency bound of a quiet engine), at least 1 ms. The
// defaults are DefaultBatchSpans and DefaultFlushInterval; otlp.NewFromEnv
// sets the original's batch span processor settings instead (512 spans,
// 3 s, from OTLP_TRACE_MAX_EXPORT_BATCH_SIZE and
// OTLP_TRACE_SCHEDULE_DELAY_MILLIS).
func WithBatch(spans int, interval time.Duration) Option {
	return optionFunc(func(c *config) { c.batchSpans, c.flushInterval = spans, interval })
}

// WithIdleTimeout sets how long a run may stay without any event before the
// pipeline closes it and exports it as incomplete (default 5 minutes, at
// least 1 ms; the reaper looks every quarter of it, between 10 ms and 1 s).
func WithIdleTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.idleTimeout = d })
}

// WithLimits sets the per-run and per-node limits. Zero fields keep their defaults.
func WithLimits(l Limits) Option {
	return optionFunc(func(c *config) {
		set := func(dst *int, v int) {
			if v != 0 {
				*dst = v
			}
		}
		set(&c.limits.RunsInFlight, l.RunsInFlight)
		set(&c.limits.NodesPerRun, l.NodesPerRun)
		set(&c.limits.Attrs, l.Attrs)
		set(&c.limits.Events, l.Events)
		set(&c.limits.EventAttrs, l.EventAttrs)
		set(&c.limits.ValueBytes, l.ValueBytes)
		set(&c.limits.RunBytes, l.RunBytes)
	})
}

// DefaultServiceName is the service.name of an engine whose resource has
// none.
const DefaultServiceName = "flowtel"

// WithResource sets the identity of this process on every export. An
// empty ServiceName is unset: the engine uses DefaultServiceName.
func WithResource(r encode.Resource) Option { return optionFunc(func(c *config) { c.resource = r }) }

// WithSink sets where finished runs go. The default discards them (counted as exported).
func WithSink(s Sink) Option { return optionFunc(func(c *config) { c.sink = s }) }

// WithErrorHandler sets the function told of sink failures and other
// errors off the hot path. It is called from the pipeline's goroutines,
// one call at a time per goroutine: it must be safe for concurrent use.
// A panic in it is recovered and counted in Stats.Panics.
func WithErrorHandler(f func(error)) Option {
	return optionFunc(func(c *config) { c.errorHandler = f })
}

// MaxSIDBytes is the longest SID a run holds (the buffer of its record):
// New refuses a WithSID configuration whose SIDs are longer.
const MaxSIDBytes = 64

// WithSID makes StartRun give every run without a SID one from a generator
// with this configuration (validated by New, which also refuses a Sub and
// Location of more than 37 bytes together: the SID, 27 bytes more, is
// written into a 64-byte buffer of its run, allocating nothing).
func WithSID(cfg sid.Config) Option { return optionFunc(func(c *config) { c.sid = &cfg }) }

// WithSampler sets the head sampler, which decides at StartRun whether a
// run is sampled: what it propagates to the services it calls, and whether
// it can be exported at all. The default is ParentBased(AlwaysOn()).
func WithSampler(s Sampler) Option { return optionFunc(func(c *config) { c.sampler = s }) }

// WithTailSampling sets the policy that decides, once per ended run,
// whether a run the head sampler kept is exported (see TailPolicy). New
// refuses a policy with a value out of range, naming the field.
func WithTailSampling(p TailPolicy) Option { return optionFunc(func(c *config) { c.tail = p }) }

// WithStackTraces makes RecordError capture the goroutine's stack into
// exception.stacktrace. It allocates, so it is off by default.
func WithStackTraces(on bool) Option { return optionFunc(func(c *config) { c.stackTraces = on }) }
