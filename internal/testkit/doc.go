// Package testkit holds what flowtel's tests share and nothing else:
// WantAllocs, the one exact allocation budget every package's tests assert
// with, Get, a GET read to the end, Promtool, `promtool check metrics` with the
// one finding the original's names bring, Mutate, the random edits of the property tests that compare
// two parsers on corrupted headers, and on Linux NeedCPUTime, ThreadCPU, LeastCPU and PrintCPUTime, the
// thread CPU time the -cputime figures of PERFORMANCE.md are measured in, with NeedTwoCPUs and
// SetAffinity for the tests that bind their threads to the two CPUs. The race flag is internal/race's; the loopback OTLP receiver is
// internal/otlptest; the OTLP reference builders are internal/otlpref.
//
// # Concurrency
//
// WantAllocs runs f on the calling goroutine.
package testkit
