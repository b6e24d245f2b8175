// Package bench compares flowtel with the OpenTelemetry Go SDK on the same
// work, and holds the embedded OTLP receiver that the comparisons and
// cmd/loadgen send to.
//
// # Method
//
// BenchmarkCompare has one sub-benchmark per stage and tracer, named so
// that benchstat reads them as a table:
//
//   - capture/flowtel, capture/otelsdk, capture/otelsdk-tuned: the caller's
//     cost of one node span with 8 attributes and 1 event, from start to
//     end, under b.RunParallel. flowtel drains into a discarding sink
//     with its default drop policy (dropped/span says whether the pipeline
//     kept up; the caller's cost is what is measured); the
//     SDK's spans go through its BatchSpanProcessor to an exporter that
//     discards them, so both pay their real hand-off: otelsdk with the
//     processor's defaults (queue 2,048, batch 512, dropping when full:
//     dropped/span says how many, which makes it cheaper), otelsdk-tuned
//     with what a performance-minded user would choose (queue 65,536,
//     batch 4,096, WithBlocking: lossless). engine's BenchmarkCapture is the
//     lossless capture figure with the pipeline's CPU counted.
//   - encode/flowtel, encode/otelsdk: turning one batch of 512 finished
//     spans (64 runs of a root and 7 nodes, 8 attributes each) into an OTLP
//     ExportTraceServiceRequest. flowtel appends with its encoder into a
//     reused buffer; the SDK path builds go.opentelemetry.io/proto/otlp
//     structs from the SDK's ReadOnlySpans and calls proto.Marshal, as its
//     otlptrace exporter does (its transform package is internal, so the
//     transform is rewritten here field for field).
//   - e2e/flowtel, e2e/otelsdk, e2e/otelsdk-tuned: b.N spans captured,
//     exported over OTLP/gRPC to a Receiver on loopback and flushed; the
//     receiver's count is checked against b.N. The SDK runs with
//     WithBlocking so that it loses nothing, like flowtel (its default mode
//     drops, see cmd/loadgen): otelsdk with the processor's other defaults,
//     otelsdk-tuned with the tuned settings above. The ratios are reported
//     against both.
//
// Every benchmark calls b.ReportAllocs and reports spans/s with
// b.ReportMetric. Run them with -count 5 or more and compare with
// benchstat; the ratios that matter are between sub-benchmarks of the same
// run, on the same machine, at the same moment. scripts/perf.sh does this
// and PERFORMANCE.md holds the results.
//
// # The receiver
//
// Receiver is a real OTLP receiver: a gRPC server registering the OTLP
// collector services for traces, logs and metrics (or the OTLP/HTTP
// paths). DecodeFull decodes every request with the official generated
// types; DecodeCount walks the protobuf wire format to count spans, log
// records and data points without building structs (CountSpans), which is
// what the throughput runs use so that the receiver's decoding, which
// shares the same two cores, does not dominate what is measured. It can
// fail a fraction of calls with UNAVAILABLE and restart on the same port,
// for soak tests.
//
// # Concurrency
//
// A Receiver's methods are safe for concurrent use. Counts is a snapshot
// of atomic counters.
//
// # Allocation
//
// The receiver allocates per request (gRPC does); it is test and load
// equipment, not part of flowtel's hot path.
//
// # Rejected alternatives
//
//   - Comparing with the SDK's default (non-blocking) batch processor in
//     e2e: it drops spans silently when its 2048-span queue is full, so its
//     ns/op would measure dropping, not exporting. cmd/loadgen shows both.
//   - A mock exporter in e2e: the point is the real gRPC path, so both
//     tracers send to a real server on loopback.
package bench
