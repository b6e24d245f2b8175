// Package encode turns flowtel's engine records (Run, Node, Event, Attr,
// Metric) into bytes: OTLP protobuf requests for traces, logs and metrics,
// the run trace log JSON of the original system, and Prometheus text. It
// imports nothing of flowtel's, so it can be read, tested and benchmarked
// alone.
//
// # What it writes
//
//   - Encoder.AppendTraces: an ExportTraceServiceRequest with one
//     ResourceSpans and one ScopeSpans. Each run is a root span (kind
//     SERVER) named "run:{flow_id}" ("run" without a flow id), child of
//     Run.ParentSpanID when the run joined a caller's trace; each node is a
//     child span (kind INTERNAL) named "run_node:{node_id}". Attributes, in
//     this order — every span: sid, app_id, uid, chat_id, span_version;
//     run span: code, flow_id, service_id (falling back to bot_id when sub
//     is "SparkAgent", else to flow_id), bot_id, sub, caller (these five
//     skipped when empty), usage.* and gen_ai.usage.{input,output}_tokens,
//     error, flowtel.incomplete, flowtel.dropped_nodes (when not zero),
//     first_frame_duration in ms (Run.FirstFrameMillis, when there is one),
//     then Run.Attrs; node span: node_id, node_type, node_name,
//     running_status, input.<key>, output.<key>, config.<key>, llm_output
//     (when set), first_frame_duration in ms (Node.FirstFrameMillis, the
//     run trace log's number, when a first frame was seen), next_node_ids
//     (a string array, when set), usage (when HasUsage), error,
//     flowtel.incomplete, error.type "cancelled" (when Cancelled), code
//     (when HasCode), then Node.Attrs with their keys as given. Each key
//     is written once a span (OTLP's rule): of the caller's lists the last
//     value set wins (Attrs over Config, Output, Input across lists), and
//     against a key the span writes itself above the span's value wins
//     (gen_ai.usage.* aside: there the caller's does); what is left out
//     counts in EncoderStats.AttrsReplaced, and in the span's
//     dropped_attributes_count when the span's own value won
//     (attrkeys.go). Keys are compared as written: two that differ only
//     in invalid UTF-8 ("k\xff", "k\xfe") are one key, "k\uFFFD".
//     error=true
//     is set when the span has an error log (event "ERROR"); info logs are
//     events "INFO" with attribute "INFO LOG" (an event given as data,
//     Event.Attrs, carries those instead, each key once, the last, counted
//     as a span's); exceptions are events
//     "exception" with exception.type/.message/.stacktrace, then
//     Event.Attrs (the OpenTelemetry bridge's RecordError attributes). Every span
//     carries Run.TraceState (children inherit it, as in the OTel SDK), the
//     W3C sampled flag and the is-remote bits of its parent, and a Status.
//   - Encoder.AppendLogs: an ExportLogsServiceRequest with one LogRecord
//     per run (see "Run log body" below).
//   - AppendRunLog / AppendRunLogWith / AppendRunLogOptions: the run trace log JSON, field for
//     field and in the original's order; large values go to an Offloader.
//   - AppendMetrics and AppendPrometheus: metrics requests and text.
//   - GetBuffer / PutBuffer / GrowBuffer: pooled request buffers
//     (bytebufferpool) that refuse buffers above MaxPooledBufferBytes, and
//     their growth, which faults in only the pages written.
//
// # How the protobuf is written
//
// All four OTLP writers (AppendTraces, AppendLogs, SpanEncoder.AppendSpans,
// AppendMetrics) share one wire layer: wire.go writes varints, tags and
// scalar fields, fields.go names every OTLP field number they use, and
// kv.go writes strings, AnyValues (appendAnyBody is the one writer of the
// oneof), KeyValues, the resource, the scope and the span status. They
// write in one pass: a length that depends on what follows (a span, an
// event, a metric, a data point, the request's ResourceSpans and
// ScopeSpans) is reserved at its usual width (two bytes for a span, one
// for an event, three for a request of spans) by openLen and written by
// closeLen once its message is; a message whose length needs another
// width is moved by the difference, which the usual sizes make rare.
// Attributes and strings, whose lengths are at hand, are written with
// their lengths first. The attributes every span of a run shares are
// written once per run, with its root span, and copied into each node
// span. The run log bodies are written in place the same way
// (AppendLogs). The output decodes with the official decoder into a
// message proto.Equal to the one google.golang.org/protobuf builds from
// the same records, has exactly its proto.Size (tested by property tests
// and fuzzed in package fuzz), and is pinned byte for byte by a golden
// test.
//
// AppendTraces reads records the engine's callers wrote on other cores
// just before, so that most lines it reads miss its cache: it prefetches
// them a stage ahead of the span it writes (the run after the next, the
// next node's struct, the arrays of the node after it), with PREFETCHT0
// hints on amd64 (prefetch_amd64.s) that retire at once, where a load
// that misses stalls; elsewhere prefetching does nothing.
//
// Strings must be valid UTF-8 in protobuf. Each string is checked once, as
// it is written; an invalid one is written with one U+FFFD per run of
// invalid bytes (the rule of strings.ToValidUTF8) and counted in
// EncoderStats.InvalidUTF8 once per field it is written to. Short ASCII
// attributes (up to 16 bytes) are tested and copied a word at a time.
//
// # Run log body
//
// The log record of a run carries the run trace log JSON as a string body,
// not as a structured kvlist, because: the JSON is the format the
// original's consumers already parse (field order included), and the same
// bytes go to every sink; a kvlist of nested node maps would be about
// three times larger on the wire and need a length prefix per key and per
// value to size; and log backends (Loki, Elasticsearch, ClickHouse) parse
// JSON bodies natively. The record's time and observed time are the run's
// end (the engine observed the run then; no clock is read while encoding),
// its severity ERROR when the run's status is an error and INFO otherwise,
// it carries the run's trace and span ids, the attributes sid and
// event.name=flowtel.run_log, and the event_name field with the same value.
//
// # Concurrency
//
// An Encoder is not safe for concurrent use: one goroutine (the engine's
// pipeline) encodes with it; Encoder.Stats may be called from any
// goroutine. GetBuffer and PutBuffer are safe for concurrent use, and
// GrowBuffer on distinct buffers. The Append functions are pure and safe
// to call concurrently on distinct destinations. Records handed to an
// encoder must not change during the call; the encoder keeps no reference
// to them afterwards.
//
// # Allocation
//
// AppendTraces and AppendLogs allocate nothing once the Encoder's scratch
// slices and the destination have grown to the batch size (asserted by
// TestTracesAllocs and TestLogsAllocs), repairs of invalid UTF-8 included.
// SpanEncoder.AppendSpans and AppendMetrics allocate nothing once the
// destination has grown (TestAppendSpansAllocs, TestAppendMetricsAllocs).
// NewEncoder allocates. GetBuffer allocates only when the pool is empty,
// GrowBuffer only when the buffer is too small (TestGrowBufferAllocs).
//
// Measured on the project's shared 2-core VMs (AMD EPYC) as thread CPU
// time, the least of 40 samples (TestCPUTime with -cputime; the
// wall-clock benchmarks varied by ±50 % while other work ran), on the
// benchmarks' batches: AppendTraces about 196 ns per span of
// BenchmarkEncodeTraces (512 spans, each with 8 of the caller's
// attributes besides the conventions' own, about 25 in all, and one
// event; PERFORMANCE.md's target table has the latest median) and,
// in an earlier round, 250-255 ns per span shaped like the load generator's
// (BenchmarkEncodeTracesLoadgen: short ASCII attributes, 256-byte
// payloads); SpanEncoder.AppendSpans 172 ns per span of 8 string
// attributes (BenchmarkAppendSpans); AppendMetrics 70 ns per data point
// (BenchmarkAppendMetrics); AppendLogs 3.4 µs per record, dominated by
// the run-log JSON it includes (BenchmarkEncodeLogs/runlog-json). All
// with 0 allocations. google.golang.org/protobuf takes 3.3–4.5 µs per
// span to marshal the prebuilt request and 8–12 µs and 79 allocations per
// span to build and marshal it (BenchmarkEncodeTraces, wall clock).
//
// # Rejected alternatives
//
//   - google.golang.org/protobuf with the OTLP types: building the structs
//     costs about 80 allocations per span and marshalling alone is 5 to 10
//     times slower than writing from the flat records (BenchmarkEncodeTraces).
//   - Trusting AppendRunLog to emit valid UTF-8 (it repairs as it escapes)
//     and skipping the body check: the check is about 6% of AppendLogs and
//     an invalid body would make the collector reject the whole request.
//     Only a body the writer wrote in ASCII, which its tests for plain
//     text tell on the way, goes unchecked (TestRunLogHighProperty).
//   - Writing a batch's traces and run logs in one pass, each run's log
//     record right after its spans (an AppendTracesLogs, tried for the
//     OTLP sink, whose encoders write both requests of each part of a
//     batch): on a 256-run loadgen-shaped batch, traces and logs, it took
//     537-580 ns of thread CPU per span against 495-553 for the two
//     passes, out of the cache and in it alike (AMD EPYC): the second pass
//     finds the records where the first pass's prefetches brought them,
//     and alternating the two writers cost more than that saved.
//   - Writing an attribute member of the run trace log with its key and
//     value loaded, checked and stored as words in one function, without
//     jsonAppendShortPlain's switch per string (tried): 2,430-2,560 ns of
//     thread CPU per loadgen-shaped run log against 2,196-2,228
//     (TestRunLogCPUTime, alternating). What did pay is the SSE2 writer
//     of runlog_amd64.s, which reads each short string with one 16-byte
//     load in its page and needs no switch on its length: -17 % per run
//     log (jsonAppendShortMembers), -11 % more for the node names
//     (runlogAppendNodeNames).
//   - Writing each nested message into a scratch buffer and copying it
//     behind its length (the simplest hand-written encoder): a copy of
//     every byte per nesting level (span → attribute → value is three).
//   - Reserving a fixed 5-byte varint for each length and patching it
//     afterwards: decoders accept padded varints, but the output is larger
//     than the canonical encoding and differs from proto.Size.
//   - Sizing every message in a first pass and appending in a second
//     (easyproto's way, and the first version of AppendTraces,
//     AppendSpans and AppendMetrics): every record is walked twice, and
//     in the load generator the sizing pass was 11-14 % of all CPU, more
//     than the rare moves of the one-pass writer cost. Moving to the one
//     pass took AppendSpans from 471 to 327 ns per span and AppendMetrics,
//     whose nested sizes were computed again at every level, from 499 to
//     70 ns per point (thread CPU time, as above).
//   - An AnyValue writer per encoder (the traces, metrics and SDK span
//     encoders each had one): one writer (kv.go) serves them all; the
//     calls it added cost AppendTraces 4-10 % until the string values of
//     the slow KeyValue path were sized and written in place, which made
//     it 2 % faster than before.
//   - Structured kvlist log bodies: see "Run log body".
//   - Fewer bytes in the run trace log by leaving out what repeats (each
//     node's sid, the func_* copies of node_id, node_type and node_name,
//     the all-zero usage of a node without usage, empty llm_output, logs
//     and next_log_ids): about 200 of a loadgen-shaped node's 850 bytes,
//     at about 0.7 ns a byte end to end (writing, gRPC send, receive:
//     620 ns per span), but every one is a field of the original's
//     NodeLog that its consumers index (docs/original.md); the JSON is
//     already compact, so no text other than fields is left to cut.
//   - Five more ways to write the run trace log faster, measured and not
//     kept (TestRunLogCPUTime, thread CPU, alternating runs, AMD EPYC):
//     checking the body's UTF-8 32 bytes at a time before utf8.Valid
//     (slower than utf8.Valid alone, which takes 146 ns for a 7.5 KB
//     run log); node id, type and name written with jsonAppendShortPlain
//     called from appendNodeIDs in room made once (2,273 against 2,254 ns
//     per run); next_log_ids resolved from a compact array of each node's
//     start and node id tail (the same hot, 3 % less out of the cache);
//     the repeated-key bits set in the Go writing loop of appendObject,
//     the object written again on a repeat (the same as their own loop;
//     set by jsonAppendShortMembers itself, as it writes, they did pay:
//     -2.7 % on RunLogJSONLoadgen, -3.1 % on EncodeLogsLoadgen/hot);
//     prefetching the start and node id of every node of the next run as
//     a run ends, which Run.FirstFrameMillis and next_log_ids read first
//     (EncodeLogsLoadgen/dram 3,096 against 3,099 ns per record).
//   - Two more, measured the same way (16 alternating pairs): the
//     constant text of a usual node record joined into fewer appends
//     (-1 and the empty llm_output with running_status and data's key;
//     the zero usage with empty logs and the closing brace): -1.7 % on
//     RunLogJSONLoadgen, nothing on EncodeLogsLoadgen; a node's usage
//     left unread without HasUsage (it lies on a line of the Node neither
//     encoder reads otherwise): no difference on EncodeLogsLoadgen/dram.
//   - Six more, tried again or new (8-10 alternating runs, benchstat):
//     the run's members from service_id to answer written by
//     jsonAppendShortMembers as an object's (two calls where each value
//     took one, and its key one more): no difference on
//     RunLogJSONLoadgen (p=0.96), +2.0 % on RunLogJSONLoadgenZH, whose
//     question the writer reads and then leaves to the escaper; every node
//     struct of the next run prefetched as a run starts (80 lines per
//     loadgen-shaped run): no difference hot or out of the cache
//     (p=0.08, p=0.38); the usual node's constant text joined into fewer
//     appends, again: -0.8 % and -1.3 %, p=0.32 and p=0.14; a node's
//     three times and two keys written with one room check and word
//     stores when they share the writer's high digits: +1.0 % on
//     RunLogJSONLoadgen and +1.1 % on EncodeLogsLoadgen/hot (p=0.02,
//     p=0.000); the run log without prefetchNodes, as its nodes may be
//     in the cache after their spans were written: -1 % hot (p=0.13),
//     +6.8 % out of the cache (p=0.000); a logs entry's time text written
//     in place rather than built on the stack and appended (its memmove
//     read what byte stores had just written): nothing (p=0.52).
package encode
