// Package ringbuf hands values from many producer goroutines to one
// consumer goroutine through bounded lock-free rings, one shard per P.
// The engine pushes each finished run (a pointer) from the caller's
// goroutine; its pipeline goroutine parks in Wait and drains in batches.
//
// # Design
//
// Each shard is a bounded multi-producer multi-consumer queue with a
// sequence number per slot (Dmitry Vyukov's design): a producer claims a
// position with one CAS on tail, copies the value in and publishes it by
// storing the slot's sequence; a consumer claims with a CAS on head. Because
// both ends are claimed by CAS, a producer can evict the oldest value of a
// full shard (DropOldest) while the consumer drains it, and no value is ever
// read half written or returned twice. Capacity is a power of two indexed by
// mask; tail, head and the drop counters each sit on their own cache line.
// Drain claims up to a whole batch of ready slots with a single CAS.
//
// Push picks the shard of the caller's P (runtime.procPin, linked by name
// as sync.Pool does; the runtime keeps it linkable, see go.dev/issue/67401). The goroutine is unpinned at once, so the choice is a
// hint: while goroutines stay on their P, each shard has a single producer
// and its cursors stay in that core's cache.
//
// The consumer parks in Wait on a channel with a reusable timer. Producers
// pay one atomic load of a state word per push to see whether it sleeps,
// and only when it does, and their shard holds WakeAt values, one of them
// clears the flag and sends the wake-up. Wait returns at WakeAt, on Wake, on
// Close or at its timeout, whichever comes first; it never spins.
//
// # Overflow and accounting
//
// A push into a full shard first spills: it takes the next shard with room,
// so a burst from one P (one goroutine ending thousands of runs at once)
// can use every shard, and Shards x Capacity bounds what the rings hold
// whatever P the producers run on. The fast path is unchanged; the other
// shards are scanned only when the caller's shard is full. A caller whose
// values outstanding (pushed, not yet returned by Drain) never exceed
// Shards x Capacity never overflows: the engine sizes its rings from the
// runs it may hold at once.
//
// A push that finds every shard full follows Config.Policy on the caller's
// shard: DropNewest drops the pushed value (ReasonFull), DropOldest evicts
// the shard's oldest value (ReasonEvicted) and stores the new one, Block
// waits for a Drain to make room in any shard up to BlockTimeout and then
// drops (ReasonTimeout). After Close every push drops with ReasonClosed.
// OnDrop sees every dropped or evicted value, on the pushing goroutine.
// Stats documents the identity Pushed == Popped + Dropped (all reasons) +
// Len, exact whenever no Push or Drain runs. Pushed is derived from the
// tail cursors, so counting adds nothing to the fast path.
//
// A Push that races with Close may store its value after the consumer's last
// Drain; a caller that needs nothing left in flight stops its producers
// before Close, or drains once more after they returned.
//
// # Concurrency
//
// Push may be called from any number of goroutines. Drain is safe from any
// goroutine but is meant for one consumer; Wait calls are serialised with a
// mutex so the timer has one owner. Wake, Close, Closed, Len and Stats may be
// called from anywhere. OnDrop must not push into the same ring.
//
// # Allocation
//
// Push, Drain (when dst has room for max values), Wait, Wake, Close, Len
// and Stats allocate nothing, asserted by TestAllocs for every policy and for
// the overflow paths. The exception is a Push that blocks under Block: the
// waiters share one channel made once per Drain that releases them, and a
// timer comes from a sync.Pool (allocated only when the pool is empty).
//
// # Performance
//
// go test -run XX -bench . -benchtime=200ms ./ringbuf/ on the shared 2-core
// VM (load average 9 to 15 during the runs, so expect ±2x between runs;
// "room" producers yield every 256 pushes, as callers that do I/O do; all
// 0 B/op and 0 allocs/op):
//
//	BenchmarkPush/room/serial/block         23-37 ns/op   0 drops (lossless, consumer-bound)
//	BenchmarkPush/room/parallel/block       34-46 ns/op   0 drops
//	BenchmarkPush/room/serial/drop_newest   33-56 ns/op   0.3-0.5 drops/op
//	BenchmarkPush/full/serial/drop_newest   36-45 ns/op   (the drop path)
//	BenchmarkPush/full/serial/drop_oldest   79-137 ns/op  (evict, then push)
//	BenchmarkPushDrain (one goroutine)      24-48 ns per value pushed and drained
//	BenchmarkChannel/block                  112 ns/op in the run where Push/room/parallel/block took 34
//
// Spilling into other shards (a full shard's push tries the next ones)
// measured against the code before it, same run, benchstat over
// go test -run XX -bench 'Push/' -benchtime=100ms -count 6 alternating
// binaries at load average 21: no time change past the noise (geomean
// -3 %, every p > 0.05), with room drops fell 24 % (parallel drop_newest,
// p=0.002).
//
// A producer that never yields outpaces the consumer here: on two time-sliced
// vCPUs a woken consumer waits for a P until the producer blocks or is
// preempted, which is why the non-blocking policies drop in these loops.
//
// Shard choice, parallel pushes; medians of
// go test -run XX -bench 'Pick|Channel/block|Push/room/parallel/block' -benchtime=100ms -count=6
// through benchstat, at load average 17 (room = with a consumer, full =
// DropOldest on full rings, so every push also evicts and claims head):
//
//	                 room             full
//	procpin (ships)  64 ns/op ±35%    96 ns/op ±43%
//	random shard     79 ns/op ±54%    110 ns/op ±20%
//	single ring      64 ns/op ±16%    142 ns/op ±37%
//
// With room, two producers on two cores barely contend even on one ring;
// once shards are full and producers also pop, per-P shards are 1.5x faster
// than one ring and 1.15x faster than random shards. procPin and
// unpin cost no more than one rand.Uint32 (BenchmarkPickCost, parallel:
// 22 against 28 ns/op at the same load), so per-P is never the slower
// choice. Lossless throughput (Block) is bound by scheduling at
// this load: Push/room/parallel/block 135 ns/op ±68% against a blocking
// channel send at 102 ns/op ±54%.
//
// # Rejected alternatives
//
//   - One shared ring (BenchmarkPick/single): every producer CASes the same
//     tail and head lines; 1.5x slower than per-P shards once rings fill,
//     a gap that can only grow with cores.
//   - A random shard per push (BenchmarkPick/random): no affinity, so
//     producers still collide and touch cold lines; slower than per-P in
//     both columns.
//   - A buffered Go channel (BenchmarkChannel): no way to evict the oldest
//     value, no drop counts per reason without a second structure, one lock
//     per send and one receive per value instead of a batch claimed with
//     one CAS. Its blocking send is as fast as Block on two loaded cores,
//     but Block is an opt-in overflow policy, not the fast path.
//   - Holding procPin for the whole push, making each shard single-producer
//     without CAS: OnDrop and the Block wait would run with preemption
//     disabled, and DropOldest needs producer-side dequeues anyway.
//   - Per-push counters for Pushed: a contended atomic add on the fast
//     path; the tail cursor already counts stored values.
//   - Popping one value per CAS in Drain: a batch of ready slots is claimed
//     with one CAS instead (popN); evictions still take one slot each.
//   - A spinning or polling consumer: costs microseconds per message on
//     time-sliced vCPUs, as on the 2-vCPU machines flowtel is measured
//     on; Wait parks on a channel and producers wake it only at WakeAt.
//   - sync.Cond for Block: it cannot wait with a timeout; a gate channel
//     closed by Drain can, in one select with the timer.
package ringbuf
