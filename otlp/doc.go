// Package otlp builds the engine a ported service usually wants: package
// engine's capture core with a Sink that encodes every finished run as
// OTLP traces (a root span "run:{flow_id}" and a span "run_node:{node_id}"
// per node execution) and OTLP logs (the run trace log JSON, one record a
// run), and pushes the engine's metrics, all through one export.Exporter
// over OTLP/gRPC or OTLP/HTTP. It sits beside engine, which imports no
// gRPC, HTTP or OpenTelemetry, so a program that only captures into a
// sink of its own links none of them.
//
//	e, err := otlp.NewFromEnv() // the original's variables and OpenTelemetry's
//	e, err := otlp.New(export.Config{Endpoint: "127.0.0.1:4317", Insecure: true})
//	defer e.Shutdown(ctx)       // exports what is in flight, within ctx
//
// New takes a Config as given and reads no environment variable: its
// Enabled field is not read (NewFromEnv honours OTLP_ENABLE=false by not
// calling New), and a zero MetricReader.ExportInterval leaves the metrics
// push at engine's default, every second. NewFromEnv reads every variable
// of docs/porting.md once, through export.FromEnv, and turns SIDs on with
// the original's defaults. Both refuse a setting that would fail later
// (a malformed header, a resource too large for a request, a large-value
// directory another user owns) with an error that names it.
//
// A receiver without an OTLP logs service, such as Jaeger, refuses every
// run trace log, counted dropped and reported by ForceFlush and Shutdown
// as export.ErrDropped: export.Config.NoLogs (OTEL_LOGS_EXPORTER=none)
// turns them off, traces and metrics still sent, the logs not sent
// counted as sampled out (Sink.RunLogsSampledOut). Jaeger takes no OTLP
// metrics either: engine.MetricsConfig.NoExport (OTEL_METRICS_EXPORTER
// none or prometheus) stops their push.
//
// # Accounting
//
// The engine made by New counts a span exported only once the receiver
// took it (the Sink is an engine.SinkReporter): what the exporter drops,
// the receiver rejects or Shutdown leaves undelivered is a drop of the
// engine's Stats by reason, so Accepted == Exported + Dropped +
// SampledOut + InFlight holds across the exporter. ExporterStats and the
// flowtel_export_* families give the exporter's own view.
//
// # Concurrency
//
// Sink's methods are called by the engine: Export and ExportLogs from the
// pipeline's export stage, one call at a time, ExportMetrics from the
// metrics goroutine or the final push of Shutdown, serialised by the
// engine. SinkStats, EncoderStats and ExporterStats may be called from
// any goroutine.
//
// # Allocation
//
// Capture allocates nothing (package engine). Export encodes into pooled
// buffers that the exporter gives back once sent (New sets Config.Release
// to encode.PutBuffer), so a request's bytes are reused rather than
// allocated each batch; sending costs what a gRPC or HTTP request costs,
// once a batch, not once a span.
package otlp
