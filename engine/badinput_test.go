package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// hangingSink blocks in Export until released.
type hangingSink struct {
	release chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (s *hangingSink) Export([]*encode.Run) error {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return nil
}
func (s *hangingSink) ForceFlush(ctx context.Context) error { return nil }
func (s *hangingSink) Shutdown(ctx context.Context) error   { return nil }

// TestBadInput drives every public call with hostile or mistaken input.
// Each case must not panic, must not hang, and must leave the accounting
// identity intact with every loss counted.
func TestBadInput(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	invalid := "ok\xff\xfe\xc3(bad"
	cases := []struct {
		name  string
		opts  []Option
		run   func(t *testing.T, e *Engine)
		check func(t *testing.T, s Stats, runs []encode.Run)
	}{
		{"invalid UTF-8 kept for the encoder to repair", nil, func(t *testing.T, e *Engine) {
			r := e.StartRun(RunInfo{FlowID: invalid, Question: invalid})
			n := r.StartNode(invalid, invalid, invalid)
			n.Input(String(invalid, invalid))
			n.Info(invalid)
			n.End()
			r.End(1, invalid)
		}, func(t *testing.T, s Stats, runs []encode.Run) {
			if len(runs) != 1 || runs[0].Nodes[0].Input[0].Value.Str() != invalid {
				t.Errorf("invalid UTF-8 must reach the encoder unchanged: %+v", runs)
			}
		}},
		{"huge values truncated and counted", []Option{WithLimits(Limits{ValueBytes: 1000})}, func(t *testing.T, e *Engine) {
			r := e.StartRun(RunInfo{Question: huge})
			n := r.StartNode("a:1", "a", "a")
			n.Input(String("k", huge), Bytes("b", []byte(huge)))
			n.LLMOutput(huge)
			n.Error(huge)
			n.End()
			r.Answer(huge)
			r.End(0, huge)
		}, func(t *testing.T, s Stats, runs []encode.Run) {
			n := runs[0].Nodes[0]
			if len(runs[0].Question) != 1000 || len(n.Input[0].Value.Str()) != 1000 || len(n.Input[1].Value.Bytes()) != 1000 || len(n.LLMOutput) != 1000 {
				t.Errorf("values not truncated to the limit")
			}
			if s.ValuesTruncated != 7 {
				t.Errorf("truncated %d, want 7", s.ValuesTruncated)
			}
		}},
		{"too many attributes, log entries and nodes", []Option{WithLimits(Limits{Attrs: 4, Events: 2, NodesPerRun: 3})}, func(t *testing.T, e *Engine) {
			r := e.StartRun(RunInfo{})
			for i := 0; i < 5; i++ {
				n := r.StartNode("a:1", "a", "a")
				n.Input(Int("a", 1), Int("b", 2), Int("c", 3))
				n.Output(Int("d", 4), Int("e", 5))
				n.Next("x", "y")
				n.Info("1")
				n.Info("2")
				n.Error("3")
				n.End()
			}
			for i := 0; i < 6; i++ {
				r.Srv("k", "v")
			}
			r.End(0, "")
		}, func(t *testing.T, s Stats, runs []encode.Run) {
			if s.Drops(DropNodeLimit) != 2 || s.AttrsDropped != 3*3+2*2 /* srv and srv_tag */ || s.EventsDropped != 3 || runs[0].DroppedNodes != 2 {
				t.Errorf("overflow not counted: %+v, run dropped nodes %d", s, runs[0].DroppedNodes)
			}
		}},
		{"empty and zero values", nil, func(t *testing.T, e *Engine) {
			r := e.StartRun(RunInfo{})
			n := r.StartNode("", "", "")
			n.Input(Attr{}, String("", ""), Bytes("", nil))
			n.Next()
			n.Input()
			n.Usage(Usage{})
			n.RecordError(nil)
			r.End(0, "")
			var zr Run
			var zn Node
			zr.End(0, "")
			zr.StartNode("a", "a", "a").End()
			zn.Input(String("a", "b"))
			zn.End()
			_ = zr.SID()
			_ = zn.SpanContext()
		}, func(t *testing.T, s Stats, runs []encode.Run) {
			if len(runs) != 1 || runs[0].Nodes[0].Status != encode.StatusError {
				t.Errorf("runs %+v", runs)
			}
		}},
		{"End twice and calls after End", nil, func(t *testing.T, e *Engine) {
			r := e.StartRun(RunInfo{})
			n := r.StartNode("a:1", "a", "a")
			n.End()
			n.End()
			n.Info("late")
			n.FirstFrame()
			r.End(0, "")
			r.End(0, "")
			r.Answer("late")
			r.StartNode("b:1", "b", "b")
		}, func(t *testing.T, s Stats, runs []encode.Run) {
			if s.StaleCalls != 6 || len(runs[0].Nodes) != 1 {
				t.Errorf("stale %d nodes %d", s.StaleCalls, len(runs[0].Nodes))
			}
		}},
		{"calls after Shutdown", nil, func(t *testing.T, e *Engine) {
			open := e.StartRun(RunInfo{})
			n := open.StartNode("a:1", "a", "a")
			if err := e.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			n.End()
			open.End(0, "")
			e.StartRun(RunInfo{}).End(0, "")
			if err := e.ForceFlush(context.Background()); !errors.Is(err, ErrShutdown) {
				t.Errorf("ForceFlush after Shutdown: %v", err)
			}
		}, func(t *testing.T, s Stats, runs []encode.Run) {
			if s.Drops(DropShutdown) != 1 || s.RunsTimedOut != 1 || len(runs) != 1 || !runs[0].Incomplete {
				t.Errorf("stats %+v", s)
			}
		}},
		{"cancelled contexts", nil, func(t *testing.T, e *Engine) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			e.StartRun(RunInfo{}).End(0, "")
			if err := e.ForceFlush(ctx); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("ForceFlush: %v", err)
			}
		}, func(t *testing.T, s Stats, runs []encode.Run) {}},
		{"sink that fails", []Option{WithSink(&MemorySink{Err: errors.New("backend down")})}, func(t *testing.T, e *Engine) {
			for i := 0; i < 10; i++ {
				r := e.StartRun(RunInfo{})
				r.StartNode("a:1", "a", "a").End()
				r.End(0, "")
			}
		}, func(t *testing.T, s Stats, runs []encode.Run) {
			if s.Drops(DropSink) != 20 || s.Exported != 0 {
				t.Errorf("stats %+v", s)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sink := &MemorySink{}
			e, err := New(append([]Option{WithSink(sink), WithBatch(64, time.Millisecond)}, c.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			c.run(t, e)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = e.Shutdown(ctx)
			s := e.Stats()
			checkDrained(t, c.name, s)
			c.check(t, s, sink.Runs())
		})
	}
}

// TestHangingSink shows that a sink that never returns blocks neither the
// callers nor Shutdown past its context, and that every span is still
// accounted for.
func TestHangingSink(t *testing.T) {
	sink := &hangingSink{release: make(chan struct{}), entered: make(chan struct{})}
	e, err := New(WithSink(sink), WithRingCapacity(4), WithShards(1), WithBatch(1, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	e.StartRun(RunInfo{}).End(0, "")
	<-sink.entered
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ { // the ring holds 4: the rest is dropped, never blocks
			e.StartRun(RunInfo{}).End(0, "")
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("callers blocked behind a hanging sink")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a hanging sink: %v", err)
	}
	s := e.Stats()
	checkIdentity(t, s)
	if s.Drops(DropRingFull) == 0 || s.InFlight == 0 {
		t.Fatalf("stats %+v", s)
	}
	close(sink.release) // let the pipeline finish so no goroutine leaks
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkDrained(t, "the sink recovered", e.Stats())
}
