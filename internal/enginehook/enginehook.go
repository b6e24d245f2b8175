// Package enginehook gives flowtel's own packages (otlp, otelbridge) what
// they need from package engine without it being part of engine's public
// API: package engine registers its hooks when it is initialised, and the
// others, which import engine, read them.
//
// The hooks are typed by engine's own types through the type parameters,
// so a caller that names the wrong types panics at its first call, in
// every test, rather than misbehaving.
package enginehook

import "github.com/flowtel/flowtel/encode"

// Hooks are the functions package engine registers. E, O, R and N are
// engine.Engine, engine.Option, engine.Run and engine.Node.
type Hooks[E, O, R, N any] struct {
	// Resource returns the resource opts set, with the fields no option
	// set left zero (unset): the default service name is not filled in.
	Resource func(opts []O) encode.Resource
	// MemoryLimit returns the WithMemoryLimit opts set, 0 when none.
	MemoryLimit func(opts []O) int64
	// Sink returns the engine.Sink opts set (the last WithSink), nil when
	// none.
	Sink func(opts []O) any
	// TailPolicy returns the engine.TailPolicy opts set (the last
	// WithTailSampling), the zero policy when none.
	TailPolicy func(opts []O) any
	// ErrorHandler returns the WithErrorHandler opts set, nil when none.
	ErrorHandler func(opts []O) func(error)

	// RunEngine returns the engine of a run, nil for a no-op run.
	RunEngine func(R) *E
	// ValueBytes returns the engine's Limits.ValueBytes.
	ValueBytes func(e *E) int
	// Bridge returns the value the engine holds for otelbridge, stored
	// from newValue at the first call (concurrent first calls keep one).
	Bridge func(e *E, newValue func() any) any
	// NodeRun returns the run a node belongs to, false for a no-op node.
	NodeRun func(N) (R, bool)
	// SetNodeShape sets the parent span and span kind of a node.
	SetNodeShape func(n N, parent encode.SpanID, kind encode.SpanKind)
	// SetNodeStatus sets a node's status without ending it.
	SetNodeStatus func(n N, code encode.StatusCode, msg string)
	// RenameNode sets a node's id and name.
	RenameNode func(n N, name string)
	// NodeException adds an exception event to a node without ending it,
	// of type typ when not empty (else err's type), with
	// exception.stacktrace when stack is set or the engine has
	// WithStackTraces, at t (Unix nanoseconds; 0 reads the clock), with
	// attrs beside its exception.* attributes (Limits.EventAttrs bounds
	// them all, those cut counted in the span's dropped_attributes_count).
	NodeException func(n N, err error, typ string, stack bool, t int64, attrs []encode.Attr)
	// NodeEvent adds an info event to a node at t (0 reads the clock):
	// msg under "INFO LOG" when attrs is empty, else attrs, an event
	// given as data (Node.InfoEvent).
	NodeEvent func(n N, t int64, msg string, attrs []encode.Attr)
	// RunEvent is NodeEvent for a run's span.
	RunEvent func(r R, t int64, msg string, attrs []encode.Attr)
	// SetRunFlowID sets a run's flow id.
	SetRunFlowID func(r R, flowID string)
	// SetRunKind sets the kind of a run's span (SERVER unless set).
	SetRunKind func(r R, kind encode.SpanKind)
	// SetRunStatus sets a run's span status (OK explicitly, or ERROR with
	// its message); OK is final, otherwise the run's return code, when not
	// 0, makes it ERROR.
	SetRunStatus func(r R, code encode.StatusCode, msg string)
	// RunException is NodeException for a run.
	RunException func(r R, err error, typ string, stack bool, t int64, attrs []encode.Attr)
	// NodeDropAttrs counts k attributes dropped by the bridge in the
	// node span's dropped_attributes_count (and the engine's Stats).
	NodeDropAttrs func(n N, k int)
	// RunDropAttrs is NodeDropAttrs for a run's span.
	RunDropAttrs func(r R, k int)
	// SetRunStart sets a run span's start time (Unix nanoseconds), given
	// by the bridge's caller (trace.WithTimestamp), before the run is
	// shared: its events keep the engine's clock.
	SetRunStart func(r R, unixNano int64)
	// SetRunEnd sets the end time the run's span takes at End, in place
	// of the engine's clock; called before End.
	SetRunEnd func(r R, unixNano int64)
	// SetNodeStart is SetRunStart for a node's span.
	SetNodeStart func(n N, unixNano int64)
	// EndNodeAt ends a node as End does, its span ending at unixNano.
	EndNodeAt func(n N, unixNano int64)
}

var hooks any

// Register is called once, by package engine.
func Register[E, O, R, N any](h Hooks[E, O, R, N]) { hooks = h }

// Get returns the hooks package engine registered.
func Get[E, O, R, N any]() Hooks[E, O, R, N] { return hooks.(Hooks[E, O, R, N]) }
