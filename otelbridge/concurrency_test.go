package otelbridge

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
)

// TestBridgeConcurrentChildren is the regression test of the bridge losing
// structure under concurrency: children started from many goroutines while
// the parent's SetAttributes and SetName ran ended up under the run instead
// of their parent (1,405 of 12,000), and parent attributes were lost (28 of
// 6,000), each loss counted only as a stale call. trace.Span promises
// concurrent safety: every child is now under its parent and every
// attribute kept.
func TestBridgeConcurrentChildren(t *testing.T) {
	const (
		rounds    = 100
		children  = 16
		setAttrs  = 20
		rootAttrs = 5
	)
	e, sink := newTestEngine(t, engine.WithLimits(engine.Limits{Attrs: 1024, NodesPerRun: 1 << 14}))
	tr := NewTracerProvider(e).Tracer("test")
	ctx, root := tr.Start(context.Background(), "flow")
	parents := make([]trace.Span, rounds)
	for round := range rounds {
		pctx, parent := tr.Start(ctx, fmt.Sprint("parent:", round))
		parents[round] = parent
		var wg sync.WaitGroup
		for c := range children {
			wg.Go(func() {
				_, child := tr.Start(pctx, fmt.Sprintf("child:%d:%d", round, c))
				child.SetAttributes(attribute.Int("c", c))
				child.End()
			})
		}
		wg.Go(func() {
			for i := range setAttrs {
				parent.SetAttributes(attribute.Int(fmt.Sprint("a", i), i))
				parent.SetName(fmt.Sprint("parent:", round))
			}
		})
		wg.Go(func() {
			for i := range rootAttrs {
				root.SetAttributes(attribute.Int(fmt.Sprint("r", round, "_", i), i))
			}
		})
		wg.Wait()
		parent.End()
	}
	root.End()
	flush(t, e)
	runs := sink.Runs()
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	byID := map[string]*encode.Node{}
	for _, n := range runs[0].Nodes {
		byID[n.NodeID] = n
	}
	lostParent, lostAttrs := 0, 0
	for round := range rounds {
		p := byID[fmt.Sprint("parent:", round)]
		if p == nil {
			t.Fatalf("no parent %d", round)
		}
		if want := encode.SpanID(parents[round].SpanContext().SpanID()); p.SpanID != want {
			t.Fatalf("parent %d has span id %v, its span %v", round, p.SpanID, want)
		}
		lostAttrs += setAttrs - len(p.Output)
		for c := range children {
			ch := byID[fmt.Sprintf("child:%d:%d", round, c)]
			if ch == nil || ch.ParentSpanID != p.SpanID {
				lostParent++
			}
		}
	}
	if got := len(runs[0].Attrs); got != rounds*rootAttrs {
		t.Errorf("run has %d attributes, want %d", got, rounds*rootAttrs)
	}
	if lostParent != 0 || lostAttrs != 0 {
		t.Errorf("%d of %d children not under their parent, %d of %d parent attributes lost", lostParent, rounds*children, lostAttrs, rounds*setAttrs)
	}
	if s := e.Stats(); s.StaleCalls != 0 {
		t.Errorf("%d stale calls: a concurrent call was lost", s.StaleCalls)
	}
}
