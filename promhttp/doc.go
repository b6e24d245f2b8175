// Package promhttp serves an engine's metrics to Prometheus over HTTP. It
// is apart from package engine so that capturing links no HTTP server.
//
//	http.Handle("/metrics", promhttp.Handler(eng))
//
// It serves the families README's metrics table lists: the original's
// request metrics (server_request_total, server_request_time_microseconds,
// with their labels), the node, accounting and GenAI families of package
// engine, and, for an engine made by otlp.New, the exporter's
// flowtel_export_* and, unless Config.LargeFields.Disabled,
// flowtel_offload_values_total. The histograms keep
// their explicit buckets here even when the OTLP push sends exponential
// ones, and the counters stay cumulative when it sends deltas: the
// Prometheus text format has neither.
//
// # Concurrency
//
// The handler serves any number of requests at once; each takes a
// collection of the engine's metrics, which are serialised with the OTLP
// push and never block the workflow engine's recording.
//
// # Allocation
//
// A request writes into a pooled buffer (encode.GetBuffer) that
// engine.Engine.AppendPrometheus fills, and, gzipped, into a second one
// through a pooled gzip.Writer; what remains is net/http's own cost of a
// request.
package promhttp
