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
		ValueBytes: func(e *Engine) int { return e.cfg.limits.ValueBytes },
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
		NodeException: Node.recordExceptionAt,
		NodeEvent:     Node.event,
		RunEvent:      Run.event,
		SetRunFlowID:  Run.setFlowID,
		SetRunKind:    Run.setKind,
		SetRunStatus:  Run.setStatus,
		RunException:  Run.recordExceptionAt,
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
	h.recordExceptionAt(err, typ, withStack, 0, nil)
}

// recordExceptionAt is recordException at t (0 reads the clock), the
// event carrying attrs beside its exception.* attributes, within
// Limits.EventAttrs (exceptionAttrs) and, kept in the node's array of
// event attributes, Limits.Attrs.
func (h Node) recordExceptionAt(err error, typ string, withStack bool, t int64, attrs []encode.Attr) {
	if n := h.begin(); n != nil {
		if now := n.now(); t == 0 {
			t = now
		}
		i := len(n.Events)
		n.Events, _ = n.e.appendException(n.Events, t, err, &n.DroppedEvents)
		addStack(n.Events, i, typ, withStack)
		if i < len(n.Events) && len(attrs) != 0 {
			attrs = n.e.exceptionAttrs(&n.Events[i], attrs, &n.DroppedAttrs)
			start := len(n.eventAttrs)
			n.eventAttrs = n.appendAttrs(n.eventAttrs, attrs, false)
			end := len(n.eventAttrs)
			n.Events[i].Attrs = n.eventAttrs[start:end:end]
		}
		n.addEventBig(i) // with its stack
	}
}

// recordExceptionAt is Node.recordExceptionAt for a run: its attributes
// are copied (runRecord.eventAttrs).
func (h Run) recordExceptionAt(err error, typ string, withStack bool, t int64, attrs []encode.Attr) {
	if r := h.begin(); r != nil {
		// err.Error() may panic (a nil *T that dereferences itself): the
		// claim must not outlive it, or End waits for it for good.
		defer r.done()
		if now := r.now(); t == 0 {
			t = now
		}
		i := len(r.Events)
		r.Events, _ = r.e.appendException(r.Events, t, err, &r.DroppedEvents)
		addStack(r.Events, i, typ, withStack)
		if i < len(r.Events) && len(attrs) != 0 {
			r.Events[i].Attrs = r.eventAttrs(r.e.exceptionAttrs(&r.Events[i], attrs, &r.DroppedAttrs))
		}
	}
}

// exceptionAttrs returns the first of attrs that fit the exception event
// ev beside its own exception.type, exception.message and, when it has
// one, exception.stacktrace, within Limits.EventAttrs, counting the
// others as dropped.
func (e *Engine) exceptionAttrs(ev *encode.Event, attrs []encode.Attr, dropped *uint32) []encode.Attr {
	own := 2
	if ev.Stacktrace != "" {
		own++
	}
	if room := max(e.cfg.limits.EventAttrs-own, 0); len(attrs) > room {
		k := len(attrs) - room
		*dropped += uint32(k)
		e.stats.attrsDropped.Add(uint64(k))
		attrs = attrs[:room]
	}
	return attrs
}

// event adds an info event at t (0 reads the clock): msg under
// "INFO LOG" as Info does or, with attrs, an event given as data as
// InfoEvent does.
func (h Node) event(t int64, msg string, attrs []encode.Attr) {
	if n := h.begin(); n != nil {
		if now := n.now(); t == 0 {
			t = now
		}
		if len(attrs) != 0 {
			n.appendEventAttrs(t, encode.EventInfo, attrs)
			return
		}
		k := len(n.Events)
		n.Events = n.e.appendEvent(n.Events, t, encode.EventInfo, msg, &n.DroppedEvents)
		n.addEventBig(k)
	}
}

// event is Node.event for a run's span, whose attributes are copied
// (runRecord.eventAttrs), at most Limits.EventAttrs of them.
func (h Run) event(t int64, msg string, attrs []encode.Attr) {
	if r := h.begin(); r != nil {
		defer r.done()
		if now := r.now(); t == 0 {
			t = now
		}
		if len(attrs) == 0 {
			r.Events = r.e.appendEvent(r.Events, t, encode.EventInfo, msg, &r.DroppedEvents)
			return
		}
		e := r.e
		if len(r.Events) >= e.cfg.limits.Events {
			r.DroppedEvents++
			e.stats.eventsDropped.Add(1)
			return
		}
		if k := len(attrs) - e.cfg.limits.EventAttrs; k > 0 {
			r.DroppedAttrs += uint32(k)
			e.stats.attrsDropped.Add(uint64(k))
			attrs = attrs[:e.cfg.limits.EventAttrs]
		}
		r.Events = append(r.Events, encode.Event{TimeUnixNano: t, Kind: encode.EventInfo, Attrs: r.eventAttrs(attrs)})
	}
}

// eventAttrs returns a copy of attrs, the attributes of one of the run's
// events, each cut as a run attribute is (Limits.ValueBytes). A run
// record has no array for them, as a node's has: the bridge's run spans,
// which allocate anyway, are their only writer, and reset, clearing the
// events, lets the copy go. Limits.RunBytes counts them with the run's
// values.
func (r *runRecord) eventAttrs(attrs []encode.Attr) []encode.Attr {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]encode.Attr, len(attrs))
	for i, a := range attrs {
		a.Key = r.e.value(a.Key)
		a.Value = r.e.limitValue(a.Value, nil)
		out[i] = a
	}
	return out
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
