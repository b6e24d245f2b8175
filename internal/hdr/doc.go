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
// goroutines. Snapshot, DeltaSnapshot, their Drained forms, Value,
// ValueDrained, Batch.Drain, Vec.Each and Vec.Overflowed may be called
// from any goroutine at any time (a Batch by one at a time); they
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
// # Sequence and fences
//
// A record on P p is, in program order, (a) seq = n (odd), (b) load cur,
// (c) the buffer's stores, (d) seq = n+1. Only the goroutine pinned to p
// writes the shard, so the sequence needs no read-modify-write to count.
// A collector, under the Histogram's mu, reads u = seq, then (1) stores
// cur = spare, (2) fences, (3) reads seq until it is even or has moved,
// and (4) folds the old buffer. (a)-(b) against (1)-(3) is a Dekker
// pattern: each side stores then loads the other's word, which takes a
// full fence on both sides; (c)-(d) against (3)-(4) is a publication,
// which takes only release order. A record is lost if it writes the old
// buffer after the fold reads it, and counted twice if it is in two folds;
// neither happens if every record that loads the old cur is complete and
// seen by (3):
//
//   - The fence path (linux/amd64 without -race, when the kernel lets the
//     process register for MEMBARRIER_CMD_PRIVATE_EXPEDITED at init: the
//     fenced flag). (a) and (d) are plain stores (Go's, through the
//     word's address: the compiler keeps stores, atomic operations and
//     calls in their program order, one chain of memory states in its
//     SSA, so (a) stays before (b) and (d) after (c)). (1) is an exchange, visible before (2), which is
//     membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): before it returns,
//     every thread of the process that is running executes a full memory
//     barrier (an IPI), and every thread that is not has had a context
//     switch since it last ran this process's code, which is one. So on
//     the writer's thread there is a barrier point M during (2): if (b) is
//     after M, it loads the new cur; if (b) is before M, so is (a), whose
//     store is then visible to (3), which reads seq >= n: n itself means
//     the record is in progress and (3) waits for seq to move, which is
//     (d); anything greater means (d) is done. On amd64 stores become
//     visible in program order (total store order), so once (d) is seen
//     the stores of (c) are too. A goroutine that moves between threads
//     does so between records, through the scheduler's locked
//     instructions, which are full barriers.
//   - The atomic path (other architectures, -race, or membarrier refused:
//     old kernels, seccomp filters, gVisor; and for good after a
//     membarrier the kernel fails past registration, which it does only
//     for a process not registered: the collector then turns the fence
//     off and waits a millisecond, in which a record's plain store (a)
//     already made leaves its store buffer, instead of panicking). (a)
//     is an atomic add, (1) and the reads of (3) are atomic, so all are in one sequentially
//     consistent order: if (b) loads the old cur, (a) precedes (1) and
//     (3) reads seq >= n, as above. (d) is an atomic add where a plain
//     store is not a release store (and under -race, so that the detector
//     sees the edge); on amd64 it is a plain store, release by total
//     store order, whether or not membarrier is there.
//
// A record that finds the new cur began at u or after: if (d) were seen
// by u's read, (b) would have executed before it (no architecture here
// makes a store visible before an earlier load), so before (1). So while
// the sequence still equals u at the next collection, the new buffer
// holds no record that collection can see, and drain leaves the shard
// alone: no swap and no fence for a P that has not recorded. A record
// that has returned before a collection begins (through any
// synchronisation, which orders its stores before the collector's loads)
// has moved the sequence past u and is collected.
//
// The fence costs the collector 1.2-1.7 µs per shard recorded into since
// the last collection, and a record two locked read-modify-writes less
// (about 5.7 ns each), on a 2-vCPU AMD EPYC VM (kernel 6.18): a record on
// a resolved series took 15.92 -> 8.12 ns of thread CPU time (engine's
// TestCPUTime -cputime, medians of 42 alternated samples). Each
// membarrier also interrupts every running thread of the process, so a
// collection pass drains all its Histograms together through a Batch
// (drainAll): each histogram's spare goes into its shard of P i, then one
// fence for all, then the folds, P by P; its reads then drain nothing
// (SnapshotDrained, DeltaSnapshotDrained, Counter.ValueDrained). A
// histogram another collector holds is drained on its own once it is let
// go, after the pass, and one listed twice once
// (TestBatchDrainsHistogramHeldByReader, TestBatchDuplicateFencesOnce). One fence
// for the whole pass would need a spare per shard, twice the dense memory.
// A collection of 128 histograms (TestCollectCPUTime -cputime, per
// histogram, medians) with one value recorded in each since the last
// took 111 -> 1,429 ns one by one and 122 -> 166 ns through a Batch; with
// values from 100 µs to 10 s, 12.0 -> 14.0 µs one by one and 11.8 -> 12.3
// µs through a Batch; idle, 50 -> 40 ns. TestRecordReconcilesFenced,
// TestRecordReconcilesAtomic, TestBatchReconciles and
// TestBatchReconcilesAtomic check both paths; TestBatchFencesOncePerP
// counts the membarriers.
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
//   - The shard's sequence by two atomic adds per record, as before the
//     fence path: a locked read-modify-write costs about 5.7 ns on the
//     2-vCPU VMs, and the seal of the end was the costliest instruction of
//     a record in a perf profile (it waits for the record's stores to
//     drain). The fence path moves the full fence to the collector, who
//     pays one membarrier per shard it swaps (see Sequence and fences).
//     An attached Counter's tally saves a third add (9.57 -> 9.33 ns,
//     p=0.001, n=12, TestCPUTime).
//   - The sequence marks as MOVs in assembly (a call the compiler moves
//     no memory access across): the two calls and the spills of the
//     record's registers around them took a record on a resolved series
//     from 5.92 to 7.92 ns of thread CPU time (engine's TestCPUTime
//     -cputime, medians of 6 alternated runs of 6 samples). The
//     compiler's memory chain keeps the same order without them.
//   - Choosing the shard without the pin, by the CPU number (RDPID, in
//     assembly) with a compare-and-swap of the shard's sequence for its
//     single writer: RDPID and its call took 2.0 ns a read here, a pin
//     and unpin 2.5, so it would save well under a nanosecond for
//     assembly per architecture.
//   - Reading buckets with hdrhistogram-go's Distribution or Export: both
//     allocate the whole counts array on every call; the sparse
//     PackedHistogram's MergeFrom and ForEachBucket do not.
package hdr
