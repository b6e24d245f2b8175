package eino

import (
	"context"

	"github.com/flowtel/flowtel/engine"
)

type runInfoKey struct{}

// WithRunInfo returns ctx carrying the identity of the run that the next
// outermost graph, chain or workflow invoked with ctx will start: app id,
// user, chat, SID, question, a remote parent. An empty FlowID defaults to
// the graph's name (compose.WithGraphName), an empty Question to the
// graph's input when it is a string or messages. info is copied.
func WithRunInfo(ctx context.Context, info engine.RunInfo) context.Context {
	return context.WithValue(ctx, runInfoKey{}, &info)
}

// RunFromContext returns the run of the invocation ctx belongs to (in a
// node's code, the ctx it was given), for adding logs or attributes. It is
// false outside an invocation traced by a Handler.
func RunFromContext(ctx context.Context) (engine.Run, bool) {
	if s, _ := ctx.Value(anyKey{}).(*span); s != nil {
		return s.rs.run, true
	}
	return engine.Run{}, false
}

// NodeFromContext returns the node of the innermost component ctx belongs
// to, for adding logs or attributes from its code: call it from the
// component's own goroutine, as engine.Node asks, and not after a streaming
// component has returned its stream (the handler's reader then owns the
// node).
func NodeFromContext(ctx context.Context) (engine.Node, bool) {
	if s, _ := ctx.Value(anyKey{}).(*span); s != nil && (!s.root || s.alsoNode) {
		return s.node, true
	}
	return engine.Node{}, false
}
