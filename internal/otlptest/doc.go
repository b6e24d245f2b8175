// Package otlptest is flowtel's one loopback OTLP receiver for tests: a real
// gRPC server (the official collector services) or a real HTTP server on
// 127.0.0.1, decoding every request with the official
// go.opentelemetry.io/proto/otlp types and counting the spans, data points
// and log records it accepts. A behave function (Start's last argument, a
// func(Call) Reply) injects failures per request: gRPC codes with
// RetryInfo, HTTP statuses with Retry-After, partial successes, slow
// answers, and successes with an undecodable body.
//
//	r := otlptest.Start(t, otlptest.GRPC, nil) // stopped when the test ends
//	... export to r.Endpoint() ...
//	if got := r.Items()[otlptest.Traces]; got != want { ... }
//
// It imports nothing of flowtel's, so that every package's tests, the
// exporter's own included, can use it.
//
// # Concurrency
//
// Every method may be called from any goroutine while the receiver serves;
// the behave function is called from the server's goroutines, possibly
// concurrently.
package otlptest
