// Package propagation carries flowtel's runs and nodes across process
// boundaries: W3C Trace Context (traceparent, tracestate) and W3C Baggage
// in http.Header and gRPC metadata. A server starts a run that joins its
// caller's trace with StartRunFromHTTP or StartRunFromGRPC; a client hands
// the node making the call to the next service with InjectHTTP or
// InjectGRPC (pass the node's SpanContext). A Propagator has the same
// calls, counts malformed carriers and speaks the formats it was given.
//
// # Extraction and injection
//
// Extraction follows the W3C rules: several tracestate or
// baggage lines are joined with "," before parsing, empty lines left out
// (as an empty header alone, they hold no list-member); a traceparent that does
// not parse (or that appears on more than one line) is ignored together with
// its tracestate, and the run starts a new trace; a bad tracestate never
// invalidates traceparent. A tracestate with an invalid list-member, a key
// given twice or more than 32 members is discarded whole, as the W3C test
// suite and OpenTelemetry expect; a bad baggage list-member is dropped and
// the others kept. Nothing here panics on any input. Malformed input is
// reported as an error wrapping w3c's sentinels (ErrTraceParent,
// ErrTraceState, ErrBaggage), which are re-exported below, and a
// Propagator counts it by kind.
//
// Injection writes traceparent version 00 with the span's own id, its
// sampled flag (the run's head decision) and its trace's random flag,
// forwards tracestate normalized (optional whitespace and empty members
// removed, since an OpenTelemetry receiver discards a header with a
// whitespace-only member; an invalid one, which only a hand-built
// SpanContext's can be, is not written) and writes baggage in its
// normalized form.
//
// # Formats and OTEL_PROPAGATORS
//
// The package functions and the zero Propagator speak both W3C formats,
// Trace Context and Baggage, the OpenTelemetry SDK's default propagators.
// The Propagator of FromEnv (or New) speaks only the formats
// OTEL_PROPAGATORS names, as a service on the SDK does: with
// "tracecontext", baggage is neither read from incoming carriers nor
// written to outgoing ones (it may hold user data the operator chose not
// to propagate); with "baggage", no traceparent or tracestate; with
// "none", nothing. The headers of a format not spoken are ignored on
// extraction (not counted as malformed) and removed from the carrier on
// injection. ParseFormats holds the rules of the specification: a name
// flowtel does not speak (b3, jaeger) is ignored, and "none" anywhere is
// no propagation. FromEnv, and otlp.NewFromEnv which reads the same
// variable, log what they ignored once with slog at warning level, as the
// specification asks, and go on; a caller who prefers to refuse the value
// calls ParseFormats, whose error names what was ignored, and New. New
// reads bits of Formats that name no format the same way: ignored, with a
// warning, and a value with none defined is both. A
// service honouring the variable calls that Propagator's methods, not the
// package functions.
//
// # Concurrency and allocation
//
// Every function may be called from any goroutine; a Propagator counts with
// atomics. A header write allocates the value string and the
// []string of the map entry; parsing allocates nothing on the common path
// (one line per header, tracestate and baggage already normalized):
// BenchmarkPropagation/ExtractHTTP/flowtel ≈ 0.3–0.5 µs, 0 allocs, against
// 7–12 µs and 26 allocs for OpenTelemetry's TraceContext+Baggage.
//
// # Rejected alternatives
//
//   - Counters on the Engine for malformed carriers: the engine knows
//     nothing of carriers, and a package-level map keyed by *Engine would
//     be a global. The package functions return the error (static, no
//     allocation) for the caller to count, and a Propagator counts.
//   - A propagation.TextMapCarrier adapter over http.Header: its Get
//     returns only the first line (tracestate and baggage lines must be
//     joined) and its Keys allocates; the maps are read directly.
//   - Taking the first of several traceparent lines, as OpenTelemetry does:
//     two parents cannot both be right, so the header is treated as
//     malformed and counted.
package propagation
