package engine

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/w3c"
)

// A run the engine refuses (run limit, memory limit, shutdown) records
// nothing, but its caller still hands its SpanContext, and its nodes', to
// the calls it makes (propagation.InjectHTTP): were it zero, the
// traceparent would be removed and the distributed trace would break
// exactly under overload. As OpenTelemetry's non-recording span keeps its
// parent's trace, a refused run started under a caller's span propagates
// that parent: its trace id, span id, flags and tracestate, so the
// services it calls stay in the caller's trace (as children of the
// caller's span: the refused run has no span of its own). A refused root
// run propagates nothing, as the zero SpanContext did: a fresh non-sampled
// id would tell the services below to record nothing, which an overloaded
// engine has no ground to ask.
//
// The handles are 32 (Run) and 16 bytes (Node) on every hot path, too
// small to carry a SpanContext: the parent is kept in a ring of
// refusedSlots slots, written with a sequence lock (atomics only, no
// allocation), and the handles carry a ticket of 56 bits beside the drop
// reason, in the fields a refused handle does not use. A handle whose
// slot was written again since, by a refused run refusedSlots later,
// reads the zero SpanContext, as before. The ticket does not wrap in any
// process's life (2^56 refusals); one of 24 bits did after 16.7 million,
// some seconds of a flood, and a refused run held that long (a streaming
// workflow) then handed its calls another request's trace and tracestate.
//
// A node refused inside an accepted run (Limits.NodesPerRun, the memory
// limit) is kept the same way: it hands on its parent's span context, the
// run's span or, for StartChild, the parent node's, so that the calls it
// makes stay in the run's trace (before, they got the zero SpanContext and
// the traceparent was removed). A run keeps one slot for its refused
// nodes (runRecord.refusedAt) while its parent stays the same, so that a
// run refusing thousands of nodes does not turn the ring over for the
// others.

// refusedSlots is the number of refused runs' parents kept.
const refusedSlots = 1024

// refusedParent is one slot of the ring: seq is even when the slot is
// stable, odd while a writer fills it.
type refusedParent struct {
	seq      atomic.Uint32
	ticket   atomic.Uint64
	traceID  [2]atomic.Uint64
	spanID   atomic.Uint64
	flags    atomic.Uint32
	stateLen atomic.Int64
	state    atomic.Pointer[byte]
}

// refusedParents is the ring and its ticket counter.
type refusedParents struct {
	next  atomic.Uint64
	slots [refusedSlots]refusedParent
}

// ticketMask keeps the 56 bits of a ticket a Node handle has room for
// beside the drop reason (refusedNode).
const ticketMask = 1<<56 - 1

// keep stores parent, when valid, and returns its ticket (0 when it is
// not kept: invalid, or its slot being written by another refused run).
func (p *refusedParents) keep(parent *SpanContext) uint64 {
	if p == nil || !parent.IsValid() {
		return 0
	}
	t := p.next.Add(1) & ticketMask
	if t == 0 {
		t = p.next.Add(1) & ticketMask
	}
	s := &p.slots[t%refusedSlots]
	seq := s.seq.Load()
	if seq&1 != 0 || !s.seq.CompareAndSwap(seq, seq+1) {
		return 0
	}
	s.ticket.Store(t)
	s.traceID[0].Store(binary.BigEndian.Uint64(parent.TraceID[:8]))
	s.traceID[1].Store(binary.BigEndian.Uint64(parent.TraceID[8:]))
	s.spanID.Store(binary.BigEndian.Uint64(parent.SpanID[:]))
	var f uint32
	if parent.Sampled {
		f |= uint32(w3c.FlagSampled)
	}
	if parent.Random {
		f |= uint32(w3c.FlagRandom)
	}
	s.flags.Store(f)
	s.stateLen.Store(int64(len(parent.TraceState)))
	s.state.Store(unsafe.StringData(parent.TraceState))
	s.seq.Store(seq + 2)
	return t
}

// keepRefused returns the ticket of the span context a node refused in
// the accepted run h hands on: parent's (zero: the run's span), in the
// run's trace. It claims the run as a writer, quietly (the refusal is
// counted already), so that the run's fields are not read while its
// record is reused; it returns 0 (the zero SpanContext) when the run is
// no longer open.
func (h Run) keepRefused(parent encode.SpanID) uint64 {
	r := h.r
	for {
		w := r.sw.Load()
		if genOf(w) != h.gen || stateOf(w) != stateOpen || w&writerMask == writerMask {
			return 0
		}
		if r.sw.CompareAndSwap(w, w+writerOne) {
			break
		}
	}
	if parent.IsZero() {
		parent = r.SpanID
	}
	sc := r.spanContext(parent)
	p := r.e.parents
	t := r.refusedAt.Load()
	if !p.holds(t, &sc) {
		t = p.keep(&sc)
		r.refusedAt.Store(t)
	}
	r.done()
	return t
}

// holds reports whether the slot of ticket t still holds the ids of sc.
func (p *refusedParents) holds(t uint64, sc *SpanContext) bool {
	if t == 0 {
		return false
	}
	s := &p.slots[t%refusedSlots]
	seq := s.seq.Load()
	ok := seq&1 == 0 && s.ticket.Load() == t &&
		s.traceID[0].Load() == binary.BigEndian.Uint64(sc.TraceID[:8]) &&
		s.traceID[1].Load() == binary.BigEndian.Uint64(sc.TraceID[8:]) &&
		s.spanID.Load() == binary.BigEndian.Uint64(sc.SpanID[:])
	return ok && s.seq.Load() == seq
}

// spanContext returns the parent kept under ticket t, or the zero
// SpanContext when there is none or its slot was written again.
func (p *refusedParents) spanContext(t uint64) SpanContext {
	if p == nil || t == 0 {
		return SpanContext{}
	}
	s := &p.slots[t%refusedSlots]
	seq := s.seq.Load()
	if seq&1 != 0 || s.ticket.Load() != t {
		return SpanContext{}
	}
	var sc SpanContext
	binary.BigEndian.PutUint64(sc.TraceID[:8], s.traceID[0].Load())
	binary.BigEndian.PutUint64(sc.TraceID[8:], s.traceID[1].Load())
	binary.BigEndian.PutUint64(sc.SpanID[:], s.spanID.Load())
	f := s.flags.Load()
	n, ptr := s.stateLen.Load(), s.state.Load()
	if s.seq.Load() != seq {
		return SpanContext{}
	}
	if n != 0 {
		sc.TraceState = unsafe.String(ptr, n)
	}
	sc.Sampled, sc.Random = f&uint32(w3c.FlagSampled) != 0, f&uint32(w3c.FlagRandom) != 0
	return sc
}
