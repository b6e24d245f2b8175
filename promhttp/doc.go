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
// The handler appends its own counter, flowtel_scrape_errors_total
// (ScrapeErrors), whose reason says why a scrape failed: "busy" (answered
// 503, Config.MaxInFlight in flight) or "write" (the response not written
// whole).
//
// It serves the text format 0.0.4 whatever the Accept header asks for
// (OpenMetrics, protobuf): Prometheus reads the format from Content-Type,
// and the text format is the one every version parses.
//
// # Concurrency
//
// The handler serves up to Config.MaxInFlight requests at once (default
// DefaultMaxInFlight) and answers the rest 503 at once; each takes a
// collection of the engine's metrics, which are serialised with the OTLP
// push and never block the workflow engine's recording. The collection's
// lock is released before the response is written, so a client that
// reads slowly holds only its own slot and buffer, and for at most
// Config.WriteTimeout. A client still sending its request is the
// server's to bound (http.Server.ReadHeaderTimeout), before the handler
// runs.
//
// # Allocation
//
// A request writes into a pooled buffer (encode.GetBuffer) that
// engine.Engine.AppendPrometheus fills, and, gzipped, into a second one
// through a pooled gzip.Writer; what remains is net/http's own cost of a
// request. The handler so holds at most Config.MaxInFlight buffers the
// size of the exposition, which MetricsConfig.Limit bounds, and as many
// of its gzipped form with their gzip.Writers (a buffer over
// encode.MaxPooledBufferBytes goes back to the garbage collector).
package promhttp
