// Command loadgen drives realistic LLM-agent workflow load through flowtel
// (and, for comparison, through the OpenTelemetry Go SDK) into an embedded
// OTLP receiver or a real collector, and reports throughput, losses that
// reconcile exactly, capture latency, allocations, GC, memory and the
// engine's node bottleneck ranking.
//
//	go run ./cmd/loadgen                       # 10 s of the realistic workload into an embedded receiver
//	go run ./cmd/loadgen -workload synthetic -block -rate 0   # peak lossless throughput
//	go run ./cmd/loadgen -workload synthetic-v1 -block -rate 0   # the same, dc34226's workload (before/after)
//	go run ./cmd/loadgen -concurrency 100000 -latency-scale 10 -duration 60s
//	go run ./cmd/loadgen -mode both -plot lat.svg
//	go run ./cmd/loadgen -endpoint localhost:4317 -duration 1m
//	go run ./cmd/loadgen -soak -duration 10m   # faults, restarts, bounded memory
//
// It exits with status 1 when the accounting does not reconcile or a soak
// bound is passed, 2 on bad flags, and 0 after -h has printed the flags. An -endpoint that has taken no span
// 3 s into the load and refuses a TCP connection ends the run at once
// with status 1 and an error naming it (the progress lines count the
// failed export attempts), rather than after -duration and the
// exporter's retries.
//
// # Workload
//
// Runs follow plans of -nodes nodes of a -shape (chain, fan-out, iteration
// or all three in turn) with the -mix of node types: each node records its
// inputs, outputs, config, token usage, LLM output and first frame, logs,
// and ends (or records an exception at -error-rate). An LLM or agent node
// carries the GenAI conventions' attributes (Node.SetAttributes with the
// genai package's), calls a tool below itself when it starts (Node.StartChild,
// a client span of node type "tool-call" with the tool's GenAI attributes,
// one more span, ended at the first streamed chunk; its own type, so that
// the bottleneck table ranks the calls apart from the "tool" nodes) and records the chunk (Node.FirstTokenCost,
// Node.FirstFrame, Node.Chunk, and Node.Chunk again for the last chunk at
// its end, which the GenAI metrics fold); the SDK modes record the same child span and
// attributes. Runs start at -rate
// per second, evenly spaced after a linear -ramp, or as fast as the workers
// go; at most -concurrency are open at once. Workers (GOMAXPROCS-1
// goroutines by default, leaving a P to the tracer's pipeline, exporter and
// the embedded receiver) each own a share of the runs. Every mode replays
// the same plans from the same seed.
//
// The realistic workload (the default) gives nodes the durations of an
// agent platform, drawn log-uniformly per node: LLM nodes 0.3-3 s with the
// first streamed chunk after 0.1-0.8 s, tools and retrieval 20-500 ms, code
// 1-20 ms, control nodes (start, end, decision, message, ...) 0.1-2 ms,
// all times -latency-scale. A run of 8 nodes takes 2-3 s, so at the
// default -rate of 5,000 the 10,000 runs of -concurrency are all in flight
// and a run starts as one ends (about 4,000 runs/s). Each worker keeps
// the due events of its runs (a run to start, an LLM's first chunk, a node
// done) in one min-heap and sleeps until the earliest: no goroutine per run
// or node, so 100,000 runs in flight cost their records, not stacks.
//
// The synthetic workload measures peak throughput: nodes take no time, and
// each worker advances its runs one step at a time, round robin (a step
// starts one node, or the parallel branches of a fan-out, records them and
// ends them).
//
// -workload synthetic-v1 is the synthetic workload as commit dc34226
// recorded it, for a before/after of the same work against that commit's
// loadgen (-block -rate 0 there, -workload synthetic-v1 -block -rate 0
// here): the same plans, node types and attributes, but an LLM node
// records only its first frame, usage, LLM output and outputs, with no
// GenAI attributes, no tool call below it, no first-token cost and no
// chunks, and a step starts and records all its nodes before it ends
// them. A run of the default 8 nodes is 9 spans where synthetic's is 11
// (each default plan has two LLM nodes, each with a tool call). It runs
// flowtel only.
//
// The report gives the runs in flight and the live heap, sampled every
// second, beside the peak RSS.
//
// # Accounting
//
// For flowtel the report checks, after shutdown: produced by the workload
// == engine accepted == engine handed to the sink + engine drops; handed
// to the sink == exporter enqueued == exported + rejected + exporter drops;
// receiver decoded == exporter exported (spans and run trace logs). For the
// SDK, which counts nothing, dropped = produced - delivered, and the
// receiver must agree with what the SDK's exporter returned success for.
//
// With -block (lossless) a caller waits for room in the rings, and the
// engine's export stage for room in the exporter's queue, up to
// -block-timeout (10 s by default, 1 ms to a minute) before the span is
// dropped and counted (engine.block_timeout, exporter.block_timeout): a
// run measuring lossless throughput should not lose spans because a
// shared host stalled the process for a second, as it did with the 1 s
// wait it had.
//
// # The SDK's configurations
//
// -mode otelsdk and -mode both run the SDK's BatchSpanProcessor three ways:
// otelsdk, its defaults (a 2,048-span queue, batches of 512, spans dropped
// silently when the queue is full); otelsdk-blocking, the defaults with
// WithBlocking (lossless); and otelsdk-tuned, what a performance-minded
// user would choose (a 65,536-span queue, batches of 4,096, WithBlocking).
// The ratios are flowtel's delivered spans/s over each lossless one's
// (-json: ratio_flowtel_vs_otelsdk_blocking, ratio_flowtel_vs_otelsdk_tuned).
//
// # Measurement
//
// Capture latency is the caller's cost of one node's calls: in the
// synthetic workload one step's calls divided by its nodes, read with one
// clock pair every -sample steps; in the realistic one the calls of one
// node in every -sample (at its start, first chunk and end) added up. Both
// go into per-worker HDR histograms (1 ns to 10 s, 3 digits; values
// clamped first), merged at the end. Allocations are runtime MemStats deltas over the whole process, the
// embedded receiver included. CPU per span (-json cpu_ns_per_span) is the
// process's user and system time from /proc/self/stat over the load and
// the shutdown, per span produced: on a shared host it moves less than the
// rates, which follow the CPU the host leaves the process, so a
// before/after compares both. Peak RSS is VmHWM, reset per mode through
// /proc/self/clear_refs after returning freed memory to the OS.
//
// # Concurrency
//
// Each worker owns its slots, its histogram and its random source; they
// share only atomic counters (one padded set per worker) and the rate
// limiter (one atomic add per run).
//
// # Allocation
//
// The flowtel driver allocates nothing per node (attribute slices, node
// ids and payloads are built once); the SDK driver pays what the SDK does.
package main
