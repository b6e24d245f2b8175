// Command loadgen drives realistic LLM-agent workflow load through flowtel
// (and, for comparison, through the OpenTelemetry Go SDK) into an embedded
// OTLP receiver or a real collector, and reports throughput, losses that
// reconcile exactly, capture latency, allocations, GC, memory and the
// engine's node bottleneck ranking.
//
//	go run ./cmd/loadgen                       # 10 s of flowtel into an embedded receiver
//	go run ./cmd/loadgen -mode both -plot lat.svg
//	go run ./cmd/loadgen -endpoint localhost:4317 -duration 1m
//	go run ./cmd/loadgen -soak -duration 10m   # faults, restarts, bounded memory
//
// It exits with status 1 when the accounting does not reconcile or a soak
// bound is passed, and 2 on bad flags.
//
// # Workload
//
// Workers (GOMAXPROCS-1 goroutines by default, leaving a P to the tracer's
// pipeline, exporter and the embedded receiver) each keep a share of the
// -concurrency runs open at once and advance them one step at a time,
// round robin: a step starts one node (chain, iteration) or several
// parallel branches (fan-out), records its inputs, outputs, config, token
// usage, LLM output and first frame, logs, and ends it (or records an
// exception at -error-rate). Runs start at -rate per second, evenly spaced,
// or as fast as the workers go. Every mode replays the same plans from the
// same seed.
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
// # Measurement
//
// Capture latency is the caller's cost of one step divided by its nodes,
// read with one clock pair every -sample steps into per-worker HDR
// histograms (1 ns to 10 s, 3 digits; values clamped first), merged at the
// end. Allocations are runtime MemStats deltas over the whole process, the
// embedded receiver included. Peak RSS is VmHWM, reset per mode through
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
