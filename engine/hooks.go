package engine

import (
	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/enginehook"
)

// The hooks of internal/enginehook: what otlp and otelbridge need from the
// engine and that is not public API.
func init() {
	enginehook.Register(enginehook.Hooks[Engine, Option, Run, Node]{
		Resource: func(opts []Option) encode.Resource {
			var c config
			c.apply(opts)
			return c.resource
		},
		MemoryLimit: func(opts []Option) int64 {
			var c config
			c.apply(opts)
			return max(c.memLimit, 0)
		},
		Sink: func(opts []Option) any {
			var c config
			c.apply(opts)
			if c.sink == nil {
				return nil
			}
			return c.sink
		},
		TailPolicy: func(opts []Option) any {
			var c config
			c.apply(opts)
			return c.tail
		},
		ErrorHandler: func(opts []Option) func(error) {
			var c config
			c.apply(opts)
			return c.errorHandler
		},
		RunEngine: func(h Run) *Engine {
			if h.r == nil {
				return nil
			}
			return h.r.e
		},
		NodeRun: func(h Node) (Run, bool) {
			if h.n == nil {
				return Run{}, false
			}
			return h.runHandle(), true
		},
		Bridge: func(e *Engine, newValue func() any) any {
			if v := e.bridge.Load(); v != nil {
				return v
			}
			e.bridge.CompareAndSwap(nil, newValue())
			return e.bridge.Load()
		},
		SetNodeShape:  Node.setShape,
		SetNodeStatus: Node.setStatus,
		RenameNode:    Node.rename,
		NodeException: Node.recordException,
		SetRunFlowID:  Run.setFlowID,
		SetRunKind:    Run.setKind,
		SetRunStatus:  Run.setStatus,
		RunException:  Run.recordException,
		NodeDropAttrs: Node.dropAttrs,
		RunDropAttrs:  Run.dropAttrs,
		SetRunStart:   Run.setStart,
		SetRunEnd:     Run.setEnd,
		SetNodeStart:  Node.setStart,
		EndNodeAt:     Node.endAt,
	})
}

// Private writers used by the bridge. Each writes the record while its
// handle is live, from the goroutine that owns the handle (the bridge span
// holds its mutex), like the public methods.

func (h Node) setStatus(code encode.StatusCode, msg string) {
	if n := h.begin(); n != nil {
		n.Status, n.StatusMessage = code, n.e.value(msg)
	}
}

func (h Node) rename(name string) {
	if n := h.claim(); n != nil {
		name = n.e.value(name)
		n.NodeID, n.NodeName = name, name
		n.unclaim(h.gen)
	}
}

func (h Run) setFlowID(name string) {
	if r := h.begin(); r != nil {
		r.FlowID = r.e.value(name)
		r.done()
	}
}

func (h Run) setKind(k encode.SpanKind) {
	if r := h.begin(); r != nil {
		r.Kind = k
		r.done()
	}
}

func (h Run) setStatus(code encode.StatusCode, msg string) {
	if r := h.begin(); r != nil {
		r.Status, r.StatusMessage = code, r.e.value(msg)
		r.done()
	}
}

// dropAttrs counts k attributes the bridge could not keep in the node
// span's dropped_attributes_count and Stats.AttrsDropped.
func (h Node) dropAttrs(k int) {
	if n := h.begin(); n != nil {
		n.DroppedAttrs += uint32(k)
		n.e.stats.attrsDropped.Add(uint64(k))
	}
}

// dropAttrs is Node.dropAttrs for a run's span.
func (h Run) dropAttrs(k int) {
	if r := h.begin(); r != nil {
		r.DroppedAttrs += uint32(k)
		r.e.stats.attrsDropped.Add(uint64(k))
		r.done()
	}
}

// recordException adds err's exception event, of type typ when not empty
// (see addStack).
func (h Node) recordException(err error, typ string, withStack bool) {
	if n := h.begin(); n != nil {
		i := len(n.Events)
		n.Events, _ = n.e.appendException(n.Events, n.now(), err, &n.DroppedEvents)
		addStack(n.Events, i, typ, withStack)
		n.addEventBig(i) // with its stack
	}
}

func (h Run) recordException(err error, typ string, withStack bool) {
	if r := h.begin(); r != nil {
		// err.Error() may panic (a nil *T that dereferences itself): the
		// claim must not outlive it, or End waits for it for good.
		defer r.done()
		i := len(r.Events)
		r.Events, _ = r.e.appendException(r.Events, r.now(), err, &r.DroppedEvents)
		addStack(r.Events, i, typ, withStack)
	}
}

// addStack completes the exception event at events[i], when it was
// appended: typ, when given, is its exception.type (of a panic value
// that is no error, which the bridge's End records as OpenTelemetry's
// SDK does); withStack gives it, when it has none, the caller's stack
// trace: OpenTelemetry's trace.WithStackTrace(true) asks for it whatever
// WithStackTraces says.
func addStack(events []encode.Event, i int, typ string, withStack bool) {
	if i >= len(events) {
		return
	}
	if typ != "" {
		events[i].Type = typ
	}
	if withStack && events[i].Stacktrace == "" {
		events[i].Stacktrace = stack()
	}
}

// setStart sets the run span's start to t. The clock's anchor, the start
// less startMono, stays: the run's events and its nodes keep the engine's
// clock, only the span's start moves. Called before the run is shared
// (StartNode reads both fields).
func (h Run) setStart(t int64) {
	if r := h.begin(); r != nil {
		r.startMono += t - r.StartUnixNano
		r.StartUnixNano = t
		r.done()
	}
}

// setEnd sets the time the run's span ends at, which the pipeline writes
// in place of End's clock reading (add): End itself, on the caller's
// path, is left as it is.
func (h Run) setEnd(t int64) {
	if r := h.begin(); r != nil {
		r.endAt = t
		r.done()
	}
}

// setStart sets the node span's start to t; its events keep the clock.
func (h Node) setStart(t int64) {
	if n := h.claim(); n != nil {
		n.StartUnixNano = t
		n.unclaim(h.gen)
	}
}

// endAt is End, the node's span ending at t.
func (h Node) endAt(t int64) {
	if n := h.open(); n != nil {
		n.endAt(h.gen, n.e.mono(), t)
	}
}
