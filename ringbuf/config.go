package ringbuf

import (
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"
)

// Policy says what Push does when every shard is full.
type Policy uint8

// The overflow policies. DropNewest is the default.
const (
	// DropNewest makes a push into full shards fail; the pushed value is dropped.
	DropNewest Policy = iota
	// DropOldest makes a push into full shards evict the oldest value of the caller's shard.
	DropOldest
	// Block makes a push into full shards wait for room up to
	// Config.BlockTimeout, then drop the pushed value.
	Block
)

// policyNames are the policies' names, by value.
var policyNames = [...]string{DropNewest: "drop_newest", DropOldest: "drop_oldest", Block: "block"}

// String returns the policy's name.
func (p Policy) String() string { return enumName(policyNames[:], p, "Policy") }

// Reason says why a value was dropped.
type Reason uint8

// The drop reasons, one per way a value can leave the rings without Drain.
const (
	// ReasonFull is a pushed value dropped because every shard was full (DropNewest).
	ReasonFull Reason = iota
	// ReasonEvicted is a stored value evicted by a later push (DropOldest).
	ReasonEvicted
	// ReasonTimeout is a pushed value dropped after waiting BlockTimeout for room (Block).
	ReasonTimeout
	// ReasonClosed is a pushed value dropped because Close had been called.
	ReasonClosed
	// NumReasons is the number of reasons, the length of Stats.Dropped.
	NumReasons = 4
)

// reasonNames are the reasons' metric labels, by value.
var reasonNames = [NumReasons]string{ReasonFull: "ring_full", ReasonEvicted: "ring_evicted",
	ReasonTimeout: "block_timeout", ReasonClosed: "closed"}

// String returns the reason's metric label: "ring_full", "ring_evicted",
// "block_timeout" or "closed".
func (r Reason) String() string { return enumName(reasonNames[:], r, "Reason") }

// enumName returns names[v], or "typ(v)" for a value without a name.
func enumName[T ~uint8](names []string, v T, typ string) string {
	if int(v) < len(names) {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", typ, uint8(v))
}

// Defaults applied by New to zero Config fields.
const (
	// DefaultCapacity is the number of slots per shard when Config.Capacity is zero.
	DefaultCapacity = 4096
	// MaxCapacity is the largest Config.Capacity New accepts.
	MaxCapacity = 1 << 30
	// MaxShards is the largest Config.Shards New accepts.
	MaxShards = 1 << 12
	// MaxRingBytes bounds what New allocates for the slots of every
	// shard together (Shards x Capacity x the size of a slot, a sequence
	// number and a T): MaxShards x MaxCapacity slots would take terabytes,
	// and New writes every slot, so a ring past it would take the process
	// down rather than fail.
	MaxRingBytes = 16 << 30
	// MaxBlockTimeout is the longest Config.BlockTimeout New accepts: a
	// producer is an application goroutine, and a stuck consumer must not
	// hold it for longer than a request would wait.
	MaxBlockTimeout = time.Minute
)

// Sentinel errors returned by New, wrapped with the offending value.
var (
	// ErrCapacityNotPowerOfTwo reports a Config.Capacity that is not a power of two.
	ErrCapacityNotPowerOfTwo = errors.New("ringbuf: capacity is not a power of two")
	// ErrCapacityRange reports a Config.Capacity below 2 or above
	// MaxCapacity, or one whose slots in all shards would take more than
	// MaxRingBytes.
	ErrCapacityRange = errors.New("ringbuf: capacity out of range")
	// ErrShards reports a negative Config.Shards or one above MaxShards.
	ErrShards = errors.New("ringbuf: invalid shard count")
	// ErrPolicy reports an unknown Config.Policy.
	ErrPolicy = errors.New("ringbuf: unknown overflow policy")
	// ErrBlockTimeout reports a negative Config.BlockTimeout, a zero one with
	// Policy Block, or one above MaxBlockTimeout.
	ErrBlockTimeout = errors.New("ringbuf: invalid block timeout")
	// ErrWakeAt reports a Config.WakeAt that is negative or above Capacity.
	ErrWakeAt = errors.New("ringbuf: invalid wake threshold")
)

// Config configures a Sharded ring. The zero Config is valid: GOMAXPROCS
// shards of 4096 slots that drop the newest value when full.
type Config[T any] struct {
	// Shards is the number of rings; 0 means runtime.GOMAXPROCS(0).
	Shards int
	// Capacity is the number of slots per shard, a power of two from 2 to
	// MaxCapacity whose slots in all shards fit MaxRingBytes; 0 means
	// DefaultCapacity.
	Capacity int
	// Policy says what a push into a full shard does.
	Policy Policy
	// BlockTimeout bounds how long a push waits for room under Block. It must
	// be positive when Policy is Block, and at most MaxBlockTimeout.
	BlockTimeout time.Duration
	// WakeAt wakes a parked consumer once a shard holds this many values;
	// 0 means Capacity/4. The timeout given to Wait bounds latency below it.
	WakeAt int
	// OnDrop, when set, is called for every dropped or evicted value on the
	// pushing goroutine. It must be fast and must not push into the same ring.
	OnDrop func(v T, r Reason)
}

// Validate fills the zero fields of c with their defaults and reports the
// first invalid field, wrapping one of the package's sentinels, as New
// does. A package that takes ring settings of its own checks them with
// Validate rather than with rules of its own.
func (c *Config[T]) Validate() error { return c.validate() }

// validate fills defaults and checks every field.
func (c *Config[T]) validate() error {
	if c.Shards < 0 || c.Shards > MaxShards {
		return fmt.Errorf("%w: %d, want 0 (GOMAXPROCS) to %d", ErrShards, c.Shards, MaxShards)
	}
	if c.Shards == 0 {
		c.Shards = runtime.GOMAXPROCS(0)
	}
	if c.Capacity == 0 {
		c.Capacity = DefaultCapacity
	}
	if c.Capacity < 2 || c.Capacity > MaxCapacity {
		return fmt.Errorf("%w: %d, want 2 to %d", ErrCapacityRange, c.Capacity, MaxCapacity)
	}
	if c.Capacity&(c.Capacity-1) != 0 {
		return fmt.Errorf("%w: %d", ErrCapacityNotPowerOfTwo, c.Capacity)
	}
	if slot := uint64(unsafe.Sizeof(slot[T]{})); uint64(c.Shards)*uint64(c.Capacity) > MaxRingBytes/max(slot, 1) {
		return fmt.Errorf("%w: %d shards x %d slots x %d bytes is above %d bytes (MaxRingBytes)", ErrCapacityRange, c.Shards, c.Capacity, slot, uint64(MaxRingBytes))
	}
	if c.Policy > Block {
		return fmt.Errorf("%w: %d", ErrPolicy, uint8(c.Policy))
	}
	if c.BlockTimeout < 0 || c.BlockTimeout > MaxBlockTimeout || (c.Policy == Block && c.BlockTimeout == 0) {
		return fmt.Errorf("%w: %v with policy %v", ErrBlockTimeout, c.BlockTimeout, c.Policy)
	}
	if c.WakeAt < 0 || c.WakeAt > c.Capacity {
		return fmt.Errorf("%w: %d, want 0 (Capacity/4) to %d", ErrWakeAt, c.WakeAt, c.Capacity)
	}
	if c.WakeAt == 0 {
		c.WakeAt = max(1, c.Capacity/4)
	}
	return nil
}
