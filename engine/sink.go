package engine

import (
	"context"
	"slices"
	"sync"

	"github.com/flowtel/flowtel/encode"
)

// Sink receives finished runs from the pipeline's export stage, one call at a
// time. Export must not keep runs, or anything they point to, after it
// returns: the engine reuses them. An error from Export drops the batch,
// counted under DropSink. Export should not block for long; an exporting
// sink queues and returns. ForceFlush is called on a goroutine of its own
// once every batch before it was exported, so it may run while Export
// exports later batches, and beside another ForceFlush when callers flush
// at once: capture goes on while a sink flushes. Shutdown is called after
// every ForceFlush returned.
type Sink interface {
	Export(runs []*encode.Run) error
	ForceFlush(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// LogSink is implemented by a Sink that can export the run trace logs of
// runs without their spans. With TailPolicy.RunLogAlways the export stage
// hands it the runs sampling left out, as the original system logged
// every run; their spans are counted in Stats.SampledOut either way. The
// same rules as Export apply: one call at a time, runs not kept after it
// returns.
type LogSink interface {
	ExportLogs(runs []*encode.Run) error
}

// discardSink takes everything and keeps nothing.
type discardSink struct{}

func (discardSink) Export([]*encode.Run) error       { return nil }
func (discardSink) ForceFlush(context.Context) error { return nil }
func (discardSink) Shutdown(context.Context) error   { return nil }

// MemorySink keeps deep copies of every run it is given, for tests. It
// allocates.
type MemorySink struct {
	mu      sync.Mutex
	runs    []encode.Run
	logRuns []encode.Run
	// Err, when set, is returned by Export and nothing is kept.
	Err error
}

// Export copies runs.
func (s *MemorySink) Export(runs []*encode.Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	for _, r := range runs {
		s.runs = append(s.runs, CloneRun(r))
	}
	return nil
}

// ExportLogs copies runs whose spans were sampled out, for their logs.
func (s *MemorySink) ExportLogs(runs []*encode.Run) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	for _, r := range runs {
		s.logRuns = append(s.logRuns, CloneRun(r))
	}
	return nil
}

// LogRuns returns the runs given to ExportLogs so far.
func (s *MemorySink) LogRuns() []encode.Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.logRuns)
}

// ForceFlush does nothing.
func (s *MemorySink) ForceFlush(context.Context) error { return nil }

// Shutdown does nothing.
func (s *MemorySink) Shutdown(context.Context) error { return nil }

// Runs returns the runs exported so far.
func (s *MemorySink) Runs() []encode.Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.runs)
}

// CloneRun returns a deep copy of r that shares nothing with the engine.
func CloneRun(r *encode.Run) encode.Run {
	c := *r
	c.Srv, c.SrvTag, c.Attrs, c.Events = cloneAttrs(r.Srv), cloneAttrs(r.SrvTag), cloneAttrs(r.Attrs), slices.Clone(r.Events)
	c.Nodes = make([]*encode.Node, len(r.Nodes))
	for i, n := range r.Nodes {
		cn := *n
		cn.Input, cn.Output, cn.Config = cloneAttrs(n.Input), cloneAttrs(n.Output), cloneAttrs(n.Config)
		cn.Events, cn.Next, cn.Attrs = slices.Clone(n.Events), slices.Clone(n.Next), cloneAttrs(n.Attrs)
		for j := range cn.Events {
			cn.Events[j].Attrs = cloneAttrs(cn.Events[j].Attrs)
		}
		c.Nodes[i] = &cn
	}
	return c
}

func cloneAttrs(as []encode.Attr) []encode.Attr {
	out := slices.Clone(as)
	for i, a := range out {
		if a.Value.Kind() == encode.KindBytes {
			out[i].Value = encode.BytesValue(slices.Clone(a.Value.Bytes()))
		}
	}
	return out
}
