// Package engine is the API a workflow engine calls to trace its runs and
// nodes, and the pipeline that turns them into spans, run trace logs and
// metrics for a Sink.
//
//	eng, err := engine.New(engine.WithSink(sink))
//	run := eng.StartRun(engine.RunInfo{FlowID: "f1", AppID: "app", UID: "u1"})
//	n := run.StartNode("llm:1", "llm", "Answer")
//	n.Input(engine.String("query", q))
//	n.Usage(engine.Usage{PromptTokens: 12, CompletionTokens: 40, TotalTokens: 52})
//	n.End()
//	run.End(0, "success")
//
// # Data flow
//
// A Run and a Node are small value handles on pooled records. Calls write
// into the record on the caller's goroutine with no lock: the record has one
// writer. Run.End pushes the run's record (a pointer) into the ring shard of
// the caller's P (the next shard with room when that one is full); one pipeline goroutine drains the shards in batches, closes
// nodes left open, orders the nodes by their end (the run trace log's
// order, as the original's), sums usage once and folds
// latencies into metrics; then, on the same goroutine, whose cache still
// holds the records, its export stage hands each batch to the Sink (where
// otlp.Sink encodes it, a large batch split across one encoder per P, so
// that encoding uses every core) and releases the records for reuse.
// While it exports, ended runs wait in the rings. The rings are sized from Limits.RunsInFlight and a full
// shard spills into the others, so every run in flight has a slot: a burst
// of run ends waits for the pipeline instead of being dropped, and under
// sustained overload StartRun refuses new runs (run_limit). Under Block
// the rings are smaller and the overflow policy makes Run.End wait first.
//
// # Concurrency
//
// Engine methods are safe for concurrent use. A Run's methods are called by
// one goroutine at a time, except StartNode, which parallel branches may
// call at once. A Node's methods, StartChild among them, are called by one
// goroutine at a time; each child it returns is a Node of its own, which
// another goroutine may own (parallel tool calls). End
// nodes before their run: a node still open when its run ends is closed and
// exported as incomplete, with what StartNode wrote. Handles stay safe
// after End: every call on them is a no-op counted in Stats.StaleCalls,
// never a write into a reused record.
//
// # Zero values
//
// No zero value of an exported type panics (TestZeroValuesDoNotPanic calls
// every method of each). The zero Run and Node are no-op handles; the zero
// Engine acts as one shut down (its runs dropped as DropShutdown, its
// ForceFlush and Shutdown return ErrNotStarted); the zero TeeSink refuses
// every batch with ErrNilSink, counted as DropSink, and New refuses it;
// the zero RunView and NodeView show an empty run and node.
//
// # Record protocol
//
// Every record has a state word: its generation and state (free, open,
// busy, ending, ended, closed); a run's word also counts the callers
// inside a Run method and the nodes started in it. A run record's
// generation is bumped on every reuse (its release); a node record's is
// its run's: a node record belongs to one run record and one index in
// it, which each run takes once, so a record holds one node per run
// generation, and the pair names the node.
// Two kinds of edge hand writes from one goroutine to another: an atomic
// read-modify-write or store that an atomic load observes (Go's atomics,
// which the race detector sees), and the publication's release store
// (storeRelease): a load that observes it observes every write before
// it, and nothing more is promised, which is all the protocol asks of a
// store. A node costs two atomic read-modify-writes, whatever calls it
// gets:
//
//  1. StartNode loads the run's word, checks the handle's generation and
//     that the run is open, and takes the node's index with one
//     compare-and-swap (count+1): the first. It writes the node record
//     (ids, start time, the run's trace and time anchor copied in, and
//     the reset of a record whose release left its last node as it was:
//     see reopen) and opens it, in the run's generation, with one release
//     store: the publication.
//  2. Every other Node call (Input, Output, Config, SetAttributes, events,
//     Usage, FirstTokenCost, StartChild, ...) is one atomic load of the
//     node's word, equal to the handle's generation and open, then plain
//     writes to fields only the owner writes. Those that may make the
//     node not plain (events, status, usage, span attributes, ...: all
//     but Input, Output and Config within the pool) also set its rare
//     flag, on the state word's line, which the pipeline reads anyway:
//     of a node without it, it reads that line and the two holding the
//     node's identity and times, where it read six (nodeRecord.flat).
//  3. End (Fail, Cancel, RecordError) does one compare-and-swap open to
//     ended: the second, the edge that hands every write before it to the
//     pipeline.
//
// What each costs by architecture: on amd64 the compare-and-swaps are
// LOCK CMPXCHG, and the release store is a plain MOV in assembly
// (release_amd64.s; a node's publication is publish_amd64.s, the same
// MOV followed by the prefetch of the next index's record): amd64 orders every store after the stores before
// it (total store order), and the compiler moves no memory access across
// a call to assembly, whereas sync/atomic's Store is sequentially
// consistent, an XCHG, a third read-modify-write. Under the race detector
// the release store is sync/atomic's Store, so that the detector checks
// the edge: three there. On arm64 sync/atomic's Store is STLR, a
// store-release and no read-modify-write, and it is what storeRelease
// calls; the compare-and-swaps are CASAL (LDAXR/STLXR loops without LSE).
// Elsewhere storeRelease is sync/atomic's Store too. The idle clock a
// StartNode or End moves (at most once a millisecond per run: nodes of
// seconds move it every time) is a release store as well, for the same
// count: the reaper needs no order from it. The pipeline adds no
// read-modify-write to an ended node: it loads the word, and its release
// writes nothing of a plain node (reopen resets it on reuse), not even
// the word, which keeps the run's generation and ended (or closed) until
// the next run's StartNode publishes the record in the next generation;
// it resets the others, their words left as they are too. When the
// release wrote each node's word (free, the generation bumped), and the
// caller's reuse read it, that line of a plain node's record was paid
// for by both. A release store
// orders nothing after it: the owner's loads that follow the publication
// may run before other cores see it. Nothing needs them not to: the only
// other writer of an open node's word is the pipeline's compare-and-swap
// open to closed, which cannot succeed before it sees the publication,
// and the owner's next read-modify-write, End's, orders everything.
// (The run's word, by contrast, is opened by a sequentially consistent
// store: StartRun then loads the engine's closed flag, which Shutdown
// sets before it scans for open runs, a store-then-load pair that only
// sequential consistency keeps.)
//
// One would need the node's index taken and its record published by one
// instruction, hence a record its caller owns before taking an index; the
// records live in their run's chunks by index instead (see Memory). End's
// compare-and-swap cannot be a store either: the pipeline may close the
// node at the same time, and a store would overwrite its close, so the
// late End would not count as stale; on the AMD EPYC measured the store
// saved 0.4 ns of a node's 79, not worth the count.
// SetSpanKind, and the bridge's parent and name writers, write what is
// exported of a node its run closed: they mark the node busy (a
// compare-and-swap, then a release store), off the common path.
//
// Run.End ends the run with one compare-and-swap that fixes the node
// count: a StartNode whose compare-and-swap came first is in the run, one
// after it fails and counts a stale call. The pipeline, which receives
// the run through the ring (the ring's own edge), waits for each counted
// index's publication (the record's word in the run's generation, not
// free: before it, the word holds an earlier generation, or free on a new
// record), then, for each node: if it is ended, reads it all
// (edge 3); if it is still open, it closes it (compare-and-swap open to
// closed; a busy node is waited out) and orphans it. Its owner, which may
// run on another goroutine, can still be between its load and its writes:
// so the pipeline reads only what StartNode and the busy writers wrote
// (edge 1 and the busy store), copies it into a new record put in the
// node's slot (closed, in the run's generation), exports that one as
// incomplete (Stats.NodesIncomplete) and never reads or reuses the orphan
// again. It gives the orphan's bytes
// back with one swap of its byte count to a large negative value, so that
// a late grow by the owner is not counted; the garbage collector takes
// the orphan with the owner's last handle. The owner never reads the run
// record after StartNode (hence the copies), so the run record's reuse
// does not race it; a late call can only move the idle clock of the run
// that reuses the record, delaying its idle timeout by the time since.
//
// Why each guarantee holds:
//
//   - A stale handle (used after End) never writes: End precedes the use
//     on the owner's goroutine, so the load sees ended, or a later
//     generation once the record is reused, and counts a stale call: the
//     record's next node is its run record's next run's, whose generation
//     is the next (the run record's is bumped by the release that
//     precedes its reuse), and a record holds one node per run. A
//     record is reused only after its owner ended it (then no call of
//     that owner is in flight, by the one-goroutine contract) or after the
//     pipeline closed it (then it is an orphan, never reused). The load
//     sees no older value than the owner's own End wrote (coherence), so
//     how the record's next publication is ordered does not matter; nor
//     does the release, which no longer writes the word.
//   - The pipeline never reads what an owner writes: it reads an ended
//     node after edge 3, and of a closed one only what edge 1 and the busy
//     writers published, each by a release store its load observed
//     (TestStoreRelease checks the store, TestRunEndDuringNodeWrites the
//     protocol under -race). It reads a node of a run only once the
//     word holds that run's generation: a word of an earlier run (the
//     release left it) is not taken for the publication, and the release
//     that wraps the run record's 32-bit generation stores free in every
//     node word (freeNodeWords), so that a word left 2^32 runs earlier,
//     of an index the runs since never took, is not either
//     (TestAttackGenerationWrap). The reset
//     reopen does for a record its release left as it was is the new
//     owner's write before its publication: the pipeline's reads and
//     release of the record's last node come before it through the run
//     record's return to the arena and StartRun's taking it (an atomic
//     each), and it reads the node after the publication
//     (TestReleaseKeepsProtocol, TestPlainAndRichNodesReuse).
//   - Nodes left open end with their run, on whatever goroutine the run
//     ends: the compare-and-swap decides once between the owner's End and
//     the pipeline's close.
//   - StartChild starts the child in the node's run through a run handle
//     that carries the generation the node was started in: a run ended
//     and reused since refuses it as stale.
//
// Run methods (Answer, Srv, Info, ...) claim the run as writers, so that
// the idle timeout and shutdown, which close open runs, wait for or skip
// a run being written; they are per run, not per node.
//
// # Allocation
//
// StartRun, every Run and Node method and End allocate nothing in steady
// state (TestAllocs gives the exact budgets). Exceptions: RecordError
// allocates what err.Error() allocates, the first error of a named
// non-pointer type its exception.type (kept after: errorType), plus the
// stack with WithStackTraces; the first use of a record allocates it; a node whose
// input, output, config and span attributes pass the 32 its record holds
// (8 of each kind, or any mix) grows a slice once per record.
// Strings are kept, not copied; Bytes values are copied into the record.
//
// # Memory
//
// One byte budget, WithMemoryLimit, bounds what the engine holds: the
// rings and arena (allocated by New), every run and node record with its
// grown attribute arrays and Bytes copies, and the share a MemoryUser sink
// declares (otlp.Sink: its exporter's queue). A record is allocated on
// first use and reused; a run, node or copy that would pass the limit is
// refused and counted (memory_limit, ValuesTruncated). Records unused for
// idleRecordAge (5 s) are freed by the pipeline, so a burst's memory goes
// back to the collector after it (TestMemoryBurst). Stats.HeldBytes is the
// accounting, in bytes rounded to the allocator's size classes.
//
// # Clock
//
// StartRun reads the engine's monotonic clock once and takes the run's
// wall time from it and a wall anchor (time.Now read at most a second
// ago: the two clocks advance at the same rate, so a run follows a step
// of the wall clock within a second). Every later event (node start and
// end, log entries, first frame, run end) reads only the engine's clock,
// once, and derives its wall time from the run's, so durations are
// monotonic. On amd64 with an invariant time-stamp counter that clock is
// the counter (RDTSC, 9.5 ns of thread CPU time against time.Since's
// 25.5 ns on the AMD EPYC measured; read with its line in one call to
// assembly, clockNow), scaled by a line the pipeline
// calibrates against the runtime's monotonic clock (first after 10 ms,
// then at most a second apart; within 5 µs of it in TestClockFollowsMonotonic);
// elsewhere, before the first calibration, and should the counter ever
// disagree with the monotonic clock by a millisecond, it is time.Since.
//
// RDTSC is not ordered with the loads before it, so readings taken on
// different goroutines can be out of order by a few hundred cycles plus
// the cores' counter skew: on the VMs measured, a reading taken after
// another goroutine's was seen came out lower by up to 0.3-1.9 µs, in
// between 12,698 and 4.2 M of the readings of a run of 8 goroutines. An
// ordered read (LFENCE before RDTSC, or RDTSCP) cost 20-30 ns a node,
// a third of the caller's cost, so it is not used: a node's own start and
// end, and a run's, keep their order (the pipeline holds a node within
// its run and its end at or after its start), and only spans of different
// goroutines a microsecond or two apart may show the wrong way round.
//
// # Accounting
//
// Every run and node offered is a span accepted. Each leaves as exported
// (taken by the sink), dropped by a DropReason, or sampled out (WithSampler,
// WithTailSampling); the rest is in flight:
// Stats().Accepted == Exported + Dropped + SampledOut + InFlight, and
// InFlight is zero after Shutdown. Runs never ended are closed after the idle timeout (and
// at Shutdown) and exported as incomplete, with status error.
//
// # User code on the engine's goroutines
//
// The engine calls code of its user on goroutines of its own: the
// Sink's methods (each sink of a Tee), TailPolicy.Decide, the
// MetricsExporter's ExportMetrics and AppendMetrics, and the error
// handler. A panic there would end the process that links flowtel, so
// the engine recovers it where it makes the call, once a call (a batch
// for a sink, a run for Decide, a collection for the metrics exporter;
// nothing is added per span), counts it in Stats.Panics, and goes on:
// what the call held is dropped and counted under DropPanic ("panic";
// SinkErrors counts a sink's call, RunLogsDropped the run logs lost), a
// collection whose exporter panicked goes without the exporter's
// families or is not pushed, and the error handler gets an error
// wrapping ErrPanic with the panic's value, its type and, for the first
// panic and then at most one a second, its stack. A panic of the error
// handler itself is only counted. ForceFlush and Shutdown return a panic
// of the sink's own as such an error. The OpenTelemetry bridge's End, on
// the caller's goroutine, records a panic going through it and lets it
// go on: that panic is the caller's, not code the engine called.
//
// # Metrics
//
// The pipeline folds every finished run and node into request and node
// metrics on per-P HDR histograms (see Metrics); AppendPrometheus (served by
// promhttp.Handler) writes them for Prometheus, and an engine with a
// MetricsExporter (made by otlp.New) pushes them over OTLP.
// RequestSeries and RecordRequest record latencies measured by the caller,
// from any goroutine, with no allocation.
//
// # What engine does not link
//
// The capture core imports no gRPC, no OpenTelemetry, no exporter and no
// HTTP server (TestDependencies): a program that captures into its own Sink
// links only this package, encode, ringbuf, sid, flowtel's internal
// packages below them, two small modules (github.com/valyala/bytebufferpool,
// github.com/HdrHistogram/hdrhistogram-go) and the standard library.
// The rest is in packages that import engine: otlp (New, NewFromEnv, the
// OTLP sink and metrics push, through the MetricsExporter seam),
// propagation (W3C carriers; a run joins a remote parent through
// RunInfo.Parent), otelbridge (OpenTelemetry TracerProvider and SDK
// SpanExporter, through internal/enginehook) and promhttp (/metrics). See
// docs/design.md.
//
// # Rejected alternatives
//
//   - Records copied by value into the rings (the first design's sketch): a
//     node with 8 attributes is over 1 KiB, and the run trace log needs
//     every node of a run together anyway. Nodes accumulate in pooled
//     records linked to their run; the ring carries one pointer per run.
//   - One ring write per node: costs a second cursor update per node and
//     makes the pipeline regroup nodes by run. Node spans leave when their
//     run ends, which is also when Jaeger can show the whole trace.
//   - A mutex per run for parallel StartNode: a node takes the next index
//     of its run with one compare-and-swap, and its record lives in a chunk
//     of the run record, allocated once and reused by the record's later
//     runs.
//   - Every Node call claiming its record (compare-and-swap open to busy,
//     store back to open), so that the pipeline could wait for an owner
//     inside a call and export all of a node its run closed: about twelve
//     atomic read-modify-writes per node against three (two since the
//     publication is a release store). On the AMD EPYC
//     measured an uncontended one costs a few nanoseconds: the caller's
//     thread CPU time for node/attrs8 did not move with the protocol alone
//     (TestCPUTime -cputime: 149-150 ns before, 151-153 after, alternating
//     builds); on CPUs where one costs 20 cycles or more they were most of
//     a node's cost. What moved it was the clock (two readings a node, see
//     Clock): 149.4 -> 102.2 ns (n=18), BenchmarkCaptureCaller/node/attrs8
//     160.6 -> 105.4 ns (n=6). A node left open now exports its identity
//     and start, not its attributes.
//   - An inline array per attribute kind (input, output, config, span
//     attributes), each after the whole encode.Node: a node with 8
//     attributes touched 18 to 19 cache lines of its 2.8 KiB record, 13
//     since the kinds share one array after the common fields (see
//     nodeRecord). Under load each line is a memory access for the caller
//     that writes it, and again for the pipeline and the release.
//   - sync.Pool for node records: the GC empties it, and under load
//     newNodeRecord was 90% of the bytes allocated in BenchmarkCapture.
//   - Separate generation and state words: a stale handle could read the
//     old generation, sleep, and see the state of the record's next owner.
//   - sync.Pool for runs: runs live in a fixed arena instead, which is also
//     the registry the idle-timeout scan walks and the RunsInFlight bound.
//   - Tried in session 11 and not kept, measured with TestPipelineCPUTime
//     (thread CPU per span, pipeline / caller, alternating builds of
//     35c9bcd and the change, AMD EPYC, busy host) and 5 s loadgen pairs
//     (-workload synthetic, process CPU per span, median of the pairwise
//     ratios):
//     (1) The release emptying only what made a node not plain
//     (resetRare: events, next ids, span attributes, status, usage, lists
//     off the pool), its ids, times and pool left for reopen as a plain
//     node's are, with the run's word freed and a node's bytes remeasured
//     by a release store and a load where they were XCHGs: node/next
//     257.8 -> 218.9 ns (p=0.004), node/llm 515.5 -> 478.8 (p=0.000), but
//     node/next's caller 157.2 -> 182.2 (p=0.000), n=54; with (2) on top,
//     node/next 180.1, and 9 loadgen pairs 1,124 -> 1,151 ns logs off
//     (ratio 1.032), 1,827 -> 1,963 logs on (1.066). The release stores
//     alone moved nothing (p=0.34-0.92, n=54).
//     (2) The pipeline's pass prefetching the events and next ids of the
//     node after the one it reads (at the record's end, past what
//     prefetchRead asks for): node/llm 496.6 -> 447.4 (p=0.049), the
//     others unmoved, n=36; 8 loadgen pairs 1.047 logs off, 1.025 on.
//   - Tried in session 12 and not kept (same measures, against 251e23a
//     with the fold's 2-way memo):
//     (3) A node whose only rare call is Next, its ids in nextIDs, taken
//     as plain (released as it is, its ids emptied by StartNode, beside
//     reopen): node/next's pipeline 178.7 -> 96.0 ns (p=0.000), its
//     caller 134.1 -> 182.1 (least 95.6 -> 108.8), n=36; 16 loadgen pairs
//     1,009.5 -> 1,072.5 and 1,132.0 -> 1,111.2 ns (6 of 16 lower): what
//     the release no longer writes, the caller and encoder pay.
//     (4) StartNode's prefetch of the next index's record also asking for
//     its first event and next id lines (prefetchw): node/next and
//     node/llm callers unmoved (151.1 -> 151.4, 248.5 -> 257.5), attrs8's
//     pipeline 67.9 -> 82.5 (p=0.030), n=36.
package engine
