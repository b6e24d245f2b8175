// Package sid generates session identifiers (SIDs) in the format the
// original workflow platform used, so that logs, traces and the run trace
// log keep joining on the same key.
//
// # Format
//
// A SID is
//
//	sub + %04x(pid & 0xFF) + %04x(index) + "@" + location +
//	last 11 hex digits of the epoch milliseconds +
//	%02x%02x(third and fourth IPv4 octets) + first 2 characters of port + "2"
//
// For sub "spf", location "hf", IP 127.0.164.187, port "20000", pid 12345,
// t = 1640995200000 ms and index 1 the SID is
// "spf00390001@hf17e12ef9c00a4bb202". The milliseconds are written as the
// low 44 bits (11 hex digits, zero padded), which is exactly the last 11
// digits of the hexadecimal epoch milliseconds until the year 2527.
//
// The index is a 16-bit counter that increments atomically on every SID; the
// first SID of a Generator has index 1. The original forgot to increment it,
// so two SIDs in the same millisecond collided. Two SIDs of one Generator can
// only be equal when they were issued a multiple of 65536 SIDs apart and in
// the same millisecond, that is when a process issues more than 65536 SIDs
// within one millisecond. The format has no room for more.
//
// # Validation
//
// New validates the Config once and returns a sentinel error wrapped with the
// offending value: ErrSub, ErrLocation (empty, or not printable ASCII without
// '@' and spaces, which would make a SID ambiguous to parse back), ErrIP
// (not a dotted IPv4 address), ErrPort (fewer than 4 characters or more
// than 5, not decimal, or above 65535) and ErrPID (negative). Next and
// AppendNext never fail.
//
// # Concurrency
//
// A Generator is safe for concurrent use by any number of goroutines. Its
// only mutable state is the atomic index. Config.Now, when set, must be safe
// for concurrent use as well.
//
// # Allocation
//
// AppendNext allocates nothing when dst has room for the SID (Len bytes);
// Next allocates the returned string (one allocation). Each SID costs exactly
// one clock reading (time.Now or Config.Now) and one atomic add; one of
// AppendNextAt, which takes the time from its caller, the atomic add only.
//
// # Performance
//
// On the shared 2-core VM (go test -run XX -bench . -benchtime=200ms -count=3 ./sid/):
//
//	BenchmarkAppendNext/serial        75-82 ns/op   0 allocs/op (time.Now is most of it)
//	BenchmarkAppendNext/frozenclock   32-38 ns/op   0 allocs/op (formatting and the atomic add)
//	BenchmarkAppendNext/at            AppendNextAt, the engine's call: no clock reading
//	BenchmarkAppendNext/parallel      91-103 ns/op  0 allocs/op
//	BenchmarkNext                     94-103 ns/op  1 allocs/op (the string, 32 B)
//
// # Rejected alternatives
//
//   - fmt.Sprintf per SID, as the original: about 10 allocations and several
//     hundred nanoseconds; the hand-written hex encoder writes into dst.
//   - Precomputing nothing: the prefix (sub and pid) and suffix (octets,
//     port, "2") are constant per Generator, so New renders them once and
//     AppendNext only formats the index and the milliseconds.
//   - A mutex around the index, or a per-goroutine index: one atomic add is
//     cheaper than the lock and keeps the single 16-bit sequence the format
//     promises.
//   - Waiting for the next millisecond when the index wraps inside one
//     millisecond: it would put a clock loop on the hot path for a case that
//     needs 65536 SIDs per millisecond per process, far beyond one workflow
//     engine; the collision window is documented instead.
package sid
