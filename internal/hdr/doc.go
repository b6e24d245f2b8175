// Package hdr records latencies and counts on the hot path of flowtel and
// merges them on collection. It is built on
// github.com/HdrHistogram/hdrhistogram-go: a Histogram keeps one dense HDR
// histogram per P (the runtime's processor), so that no lock or cache line
// is shared across cores while recording, and folds them into a sparse
// cumulative histogram when a Snapshot is taken. The dense counts are its
// own, laid out as hdrhistogram-go lays out a Histogram's (the same
// bucket for every value: TestGeometryMatchesHdrhistogram), so that a
// record is one inlined index computation and one increment.
//
// # Units
//
// The package is unit-agnostic; flowtel records microseconds. The default
// range is 1 µs .. 1 h (DefaultLowest .. DefaultHighest) with 3 significant
// digits: any value is kept within 1/1024 of its true value.
//
// # Concurrency
//
// Record, Add, Inc and Vec.With may be called from any number of
// goroutines. Snapshot, DeltaSnapshot, Value, Vec.Each and
// Vec.Overflowed may be called from any goroutine at any time; they
// serialise among themselves with a mutex that the recording path never
// takes. A Snapshot is owned by its caller and must not be shared between
// concurrent Snapshot calls.
//
// A Counter attached to a Histogram (Histogram.Attach, as a request's
// count to its latency) is counted by RecordCounted inside the pinned
// section, in a plain tally of the shard's buffer, instead of by an atomic
// add of its own; collecting the Histogram adds the tallies to their
// Counters, and the Counter's Value collects its Histogram first, so it
// still sees every record that has returned.
//
// The recording path pins its goroutine to its P (runtime.procPin, reached
// with //go:linkname; the runtime keeps it for exactly this use, see
// go.dev/issue/67401), so exactly one goroutine writes a shard at a time.
// Each shard carries a sequence number, incremented before and after a
// record; a collector swaps the shard's buffer for an empty spare and waits
// until the sequence moves past any record in progress (a few
// nanoseconds: the writer cannot be preempted while pinned), then merges
// the old buffer at leisure. Writers never wait for collectors.
//
// # Allocation
//
// Record, Add and Inc allocate nothing once the shard of the current P
// exists; the first record on a P allocates that shard's dense histogram
// (about 184 KiB for the default range). Vec.With allocates nothing once
// the series exists (asserted by tests); creating a series copies its
// label values, so callers may pass strings over memory they reuse.
// NewVec builds a family of any series type, so that a caller can keep
// several instruments under one label set and pay one lookup for all. Snapshot allocates only while the
// sparse histograms it fills grow; a Snapshot reused across collections of
// the same Histogram reaches a steady state with none.
//
// # Memory
//
// A Histogram costs one dense HDR histogram (184 KiB at the default range)
// per P that has recorded into it, plus one spare for the collector, plus
// sparse cumulative and delta histograms proportional to the populated
// buckets. Bound the number of series with Vec's cardinality limit.
//
// # Rejected alternatives
//
//   - A mutex per histogram: every core writes the mutex's cache line. On
//     the shared 2-vCPU machines BenchmarkRecordLatency/mutex measured 7-8
//     ns, no worse than the shards (6-13 ns, BenchmarkHistogramRecord),
//     because two time-sliced vCPUs rarely contend; the shards are kept
//     for real multi-core hosts, where a shared lock line does not scale,
//     and because a collector holding a mutex for a 40 µs merge would stall
//     every recorder.
//   - A per-shard spin lock taken by both writer and collector: the writer
//     would spin, pinned, for the whole merge (tens of microseconds), and
//     with GOMAXPROCS=1 a preempted collector would deadlock the P.
//   - Sharding by a hash of the goroutine or a random number: two
//     goroutines may share a shard, so every record needs an atomic
//     read-modify-write or a lock on the counts; procPin gives a single
//     writer per shard for free.
//   - Double buffering per shard: it doubles the dense memory per P; one
//     spare per Histogram, passed from shard to shard during collection,
//     gives the same writer-never-waits property.
//   - sync.Map keyed by label values for Vec: boxing an [8]string key into
//     an interface allocates on every lookup.
//   - A copy-on-write Go map keyed by [8]string: no allocation, but it
//     hashes and compares all 8 strings on every lookup, empty or not
//     (75-140 ns per lookup and record with 3 labels, BenchmarkRecordLatency
//     /flowtel); Vec's own copy-on-write open-addressing table hashes only
//     the labels the family has, with hash/maphash.
//   - Recording into an hdrhistogram-go Histogram per P: RecordValue is a
//     call that checks the sign, the range, the count and the total's
//     overflow, all of which the clamped, single-writer path already
//     knows; with it and a division to pick the counter's shard, a
//     record on a resolved request series took 14.0 ns of thread CPU
//     time, against 8.7 ns now (engine's TestCPUTime -cputime, AMD EPYC).
//   - Fewer atomic adds than two per record (the shard's sequence before
//     and after): the collector must see that a writer is inside a record
//     before it reads the buffer, which takes a store-load fence on the
//     writer's side, and the end must be published by a store; Go's
//     atomic stores are as costly as adds on amd64 (XCHG), and plain
//     stores are data races. The seal of the end is the costliest
//     instruction of a record in a perf profile: it waits for the
//     record's stores to drain. An attached Counter's tally saves the
//     third add (9.57 -> 9.33 ns, p=0.001, n=12, TestCPUTime).
//   - Choosing the shard without the pin, by the CPU number (RDPID, in
//     assembly) with a compare-and-swap of the shard's sequence for its
//     single writer: RDPID and its call took 2.0 ns a read here, a pin
//     and unpin 2.5, so it would save well under a nanosecond for
//     assembly per architecture.
//   - Reading buckets with hdrhistogram-go's Distribution or Export: both
//     allocate the whole counts array on every call; the sparse
//     PackedHistogram's MergeFrom and ForEachBucket do not.
package hdr
