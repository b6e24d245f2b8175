// Package fuzz holds flowtel's fuzz targets, which sit on top of the other
// packages and may import any of them. Each target turns the fuzzer's bytes
// into records, runs them through flowtel, and checks the result with an
// independent implementation (for encoders: the official protobuf decoder
// and a reference message built with the official OTLP types by
// internal/otlpref, the builders encode's own tests use).
//
// Run one with, for example:
//
//	go test -run '^$' -fuzz FuzzEncodeTraces -fuzztime 30s -fuzzminimizetime 0s ./fuzz/
//
// On the project's shared 2-core VMs the fuzzer stalls (0 execs/s) while it
// minimizes new inputs; -fuzzminimizetime 0s keeps it running.
//
// # Concurrency
//
// The package has no non-test code and starts no goroutines.
//
// # Allocation
//
// Not applicable: the package exports nothing.
package fuzz
