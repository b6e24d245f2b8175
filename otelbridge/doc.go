// Package otelbridge connects flowtel to OpenTelemetry's Go API and SDK:
// a trace.TracerProvider whose spans are flowtel runs and nodes
// (NewTracerProvider), and an sdk/trace SpanExporter that sends an SDK
// pipeline's spans through flowtel's encoder and exporter
// (NewSpanExporter). Package engine itself links none of OpenTelemetry.
//
// Code instrumented with the OpenTelemetry API (otelhttp, otelgrpc, a
// hand-written span) thus records into the engine's pipeline, beside the
// runs the workflow engine traces itself.
//
// # How a span maps
//
//   - A span with no flowtel parent in its context starts an engine.Run that joins
//     the parent span context found in the context, remote (extracted by an
//     otelhttp/otelgrpc server) or from another tracer, unless
//     trace.WithNewRoot is given. Its name is the run's flow id unless the
//     start attributes carry "flow_id". Start attributes named sid, app_id,
//     uid, chat_id, flow_id, service_id, bot_id, sub, caller, log_caller and
//     question fill RunInfo; the others, and later SetAttributes, become run
//     span attributes (later, flow_id renames the flow and the other RunInfo
//     keys are dropped and counted in Stats.RunAttrsDropped: the run span
//     writes them itself); an integer attribute "code" becomes the run's
//     return code. A key given twice keeps its last value, once. An
//     attribute with an empty key is dropped, as the SDK drops it, and
//     counted in Stats.InvalidAttrsDropped.
//   - A span with no flowtel parent whose start attributes name a GenAI
//     operation (gen_ai.operation.name, which the GenAI conventions ask
//     for at start) starts a run as above, INTERNAL, and is a node of it,
//     as below, with its kind (CLIENT for a model call): the engine folds
//     nodes into its GenAI metrics, and the conventions record
//     gen_ai.client.operation.duration and token.usage for every client
//     operation, where a run span would have counted nothing. The node
//     takes the start attributes RunInfo does not; End ends both, the
//     run ERROR when the span's status is. Stats counts a run and a node.
//     The trace thus has a run span above the call's: every flowtel span
//     belongs to a run (its trace log, its metrics).
//   - A span whose parent (trace.SpanFromContext) is a flowtel run or node
//     of the same engine becomes an engine.Node of that run: node id and node name
//     are the span name, node type is the start attribute AttrNodeType
//     ("flowtel.node_type", default "span"; one not a string is an input
//     value). Start attributes become the
//     node's Input, later SetAttributes its Output, written at End (as the
//     status is), each key once with its last value, as OpenTelemetry's
//     SetAttributes overwrites, in the order each key first came, so
//     that the engine's Limits.Attrs (by default 128, OpenTelemetry's
//     AttributeCountLimit) keeps a span's first keys and drops the later
//     ones, as OpenTelemetry's SDK does (a key dropped counts once in the
//     span's dropped_attributes_count, where the SDK counts each call
//     that gave it); past 1,024 keys set after start, a limit raised
//     that far included, each call giving a new key is dropped and
//     counted so. A key of the GenAI conventions' namespace
//     (gen_ai.*, package genai), as an instrumented model client sets it,
//     stays the span's attribute as given (engine.Node.SetAttributes), so
//     that the engine's GenAI metrics count the call; so do, on the span
//     of a GenAI operation, the other keys the conventions name on it:
//     error.type (the metrics' class of error), server.address and
//     server.port. A gen_ai.usage.input_tokens or output_tokens that is no
//     token count (not an int, or negative) is dropped and counted
//     (Stats.InvalidAttrsDropped).
//   - A span started under a node becomes a node of the same run whose
//     span's parent is that node's span (encode.Node.ParentSpanID), so the
//     trace keeps its depth; the span kind is kept (encode.Node.Kind).
//   - AddEvent adds an info log entry with its attributes (on a node,
//     engine.Node.InfoEvent): the span event INFO carries the name under
//     "INFO LOG", as an entry without attributes does, then the
//     attributes, within Limits.EventAttrs (the name takes one) and, on a
//     node, Limits.Attrs; a node's run trace log entry is then the text of
//     that dict, as for an InfoEvent. RecordError adds the exception event
//     of Node.RecordError (with exception.stacktrace when
//     trace.WithStackTrace(true) asks), with its attributes beside
//     exception.type and exception.message, as OpenTelemetry's SDK keeps
//     them, within Limits.EventAttrs with those. They follow the
//     exception's own (the SDK writes them first and cuts the last past
//     its limit, exception.message with them), so that the limit cuts
//     the caller's, never the exception's. The run trace log's entry
//     is its message. An attribute under a key the event writes itself
//     ("INFO LOG", exception.*) is dropped and counted
//     (Stats.EventAttrsDropped): OTLP's keys are unique. Either event
//     takes its own trace.WithTimestamp, as in OpenTelemetry's SDK. As
//     OpenTelemetry specifies, neither AddEvent nor RecordError sets the
//     status or ends the span; SetStatus(codes.Error) sets the status (a
//     run ends with code 1 unless a "code" attribute says otherwise, and
//     its span is ERROR either way), and, as in OpenTelemetry's SDK, a
//     code lower than the one set is ignored, so Ok is final; End ends
//     the run or node, and when called while
//     panicking (defer span.End()) records the panic as an exception
//     event first, as OpenTelemetry's SDK does, the panic going on.
//     trace.WithTimestamp given to Start or End is the span's start or
//     end, as in OpenTelemetry's SDK (a GenAI span's run and node both
//     take it); an event given none keeps the engine's clock. A node lies
//     within its run, as the engine keeps every node: a node's start or
//     end outside its run's span is cut to it, and an end before the
//     start is the start. A zero time, one before 1970 or one past 2262
//     (beyond int64 nanoseconds) is not a timestamp: the clock is read. Links are not kept:
//     those OpenTelemetry's SDK would keep (not an empty trace.Link, not
//     one added after End or to a span that records nothing) are counted
//     in Stats.LinksDropped.
//   - Each attribute the bridge drops (an event's under the event's own
//     key, one with an empty key, a RunInfo key set after start) counts in Stats and in
//     the span's dropped_attributes_count, as OTLP counts it (and in the
//     engine's Stats.AttrsDropped). The records have no count of links:
//     those count in Stats alone.
//   - A value keeps its type when the engine's records have it (bool,
//     int64, float64, string, bytes, empty); a slice or a map, of a span
//     or of an event, becomes its string form (attribute.Value.String,
//     ["x","y"] for a string slice), where OpenTelemetry's OTLP exporter
//     writes an array or a key-value list: the records hold no nested
//     value. The string form is cut to Limits.ValueBytes as a string is,
//     and only as much of the value as that keeps is formatted, so that
//     a value of gigabytes costs no more (a level nested past 1,000 is
//     null). SpanExporter, which converts the SDK's spans, writes slices
//     of scalars as arrays; it has no engine, so it cuts the string form
//     of any other slice or map to its export.Exporter's MaxRequestBytes
//     (4 MiB less 64 KiB by default), the longest any sent span can hold
//     (one holding more is dropped as export.DropTooLarge), formatting
//     only what that keeps, a level nested past 1,000 null as above. The
//     SDK's own span limits come first: AttributeValueLengthLimit (none by
//     default) cuts each string within a value, AttributeValueDepthLimit
//     (64 by default) its nesting, though never a Resource's.
//
// ContextWithRun and ContextWithNode put flowtel's own handles into a
// context as trace.Span values, so instrumented libraries called inside a
// node become nodes of its run, and their clients inject the node's span as
// the remote parent.
//
// The provider's ForceFlush and Shutdown are the engine's, as the SDK's
// TracerProvider flushes and shuts down its span processors: code written
// for the SDK's provider (a serverless handler that flushes before it
// freezes) finds them. After Shutdown a span records nothing and carries
// its parent's span context, as the SDK's no-op tracer does once its
// provider is shut down, counted in the engine's Stats as DropShutdown.
//
// An engine has one TracerProvider, which it holds: NewTracerProvider
// returns it at every call, and so does the TracerProvider method of
// every bridge span of the engine, those of ContextWithRun and
// ContextWithNode included (otelhttp's client Transport starts its spans
// with it when given no provider). Its Stats thus count what the bridge
// drops on any of them.
//
// # What the SpanExporter refuses
//
// ExportSpans refuses a batch given after Shutdown, one holding a nil span
// (whole: the SDK never hands one, so the batch is not what it seems) and
// any batch of a SpanExporter without an export.Exporter. The SDK passes
// the error to its error handler and forgets the batch, so each refused
// span counts in SpanExporter.Stats by Refusal; a span the exporter itself
// drops counts in its Stats, and every span given is in one or the other
// (a nil *SpanExporter, which has no counters, excepted).
//
// # Concurrency and allocation
//
// A bridge span is safe for concurrent use, as trace.Span requires: a
// mutex serialises the calls on one span. Starting a span allocates (the
// span, the context, converted attributes); the bridge is for code that is
// already instrumented, the Run/engine.Node API is the allocation-free path
// (BenchmarkBridgeSpan/node ≈ 3.4 µs, 7 allocs, runs of 16 nodes included).
//
// # Rejected alternatives
//
//   - engine.Run and engine.Node implementing trace.Span themselves: trace.Span methods
//     must be safe for concurrent use and take variadic options and
//     attribute.KeyValue, none of which fits the value handles' one-writer,
//     zero-allocation contract. The bridge wraps them instead.
//   - RecordError ending the node (as Node.RecordError does): an
//     instrumented library calls RecordError and then keeps using the span;
//     the node would end early and every later call be a stale call.
//   - Flattening nested spans to the run: simpler records, but the trace
//     loses the depth of the calls libraries make.
package otelbridge
