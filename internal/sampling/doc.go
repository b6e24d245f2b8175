// Package sampling holds the arithmetic of OpenTelemetry's consistent
// probability sampling ("TraceState: Probability Sampling"): 56-bit
// rejection thresholds, their `th` encoding, the randomness of a trace
// (the explicit `rv` value or the right-most 7 bytes of a trace-id made at
// random, as W3C Trace Context Level 2 defines them), and the `ot`
// tracestate entry that carries both. It is a leaf: it imports nothing of
// flowtel's but internal/hex; the engine's head and tail samplers are built
// on it.
//
// # What it follows
//
//   - A decision is "keep" exactly when randomness >= threshold, both 56-bit
//     integers. Threshold 0 keeps everything (th:0); a probability p keeps
//     a fraction p: threshold = (1-p)*2^56, rounded as the specification's
//     reference algorithm does with 4 significant hex digits by default
//     (more for small probabilities, so 0.01 is fd70a and 0.001 ffbe77,
//     and for probabilities near 1, so 0.99 is 028f6), as OpenTelemetry's
//     samplers write them.
//     Because every participant compares the same randomness, two
//     services at the same probability keep the same traces, and a lower
//     probability keeps a subset of what a higher one keeps.
//   - th is 1 to 14 lower-case hex digits, the threshold with its trailing
//     zeros removed ("0" for zero); rv is exactly 14 lower-case hex digits.
//     An ot value is a ';'-separated list of key ':' value, at most 256
//     characters; a th or rv that does not parse is treated as absent.
//
// # Concurrency and allocation
//
// Every function is pure and safe from any goroutine. Nothing allocates
// except SetThreshold, which builds a new ot value (one allocation), and
// only when the value changes.
package sampling
