package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// failingSink refuses every batch, and counts the shutdowns it got.
type failingSink struct{ shutdowns int }

var errRefused = errors.New("queue full")

func (*failingSink) Export([]*encode.Run) error       { return errRefused }
func (*failingSink) ForceFlush(context.Context) error { return nil }
func (f *failingSink) Shutdown(context.Context) error { f.shutdowns++; return nil }

// TestTee checks that every sink of a Tee gets every run, that the
// engine's accounting is the primary's and stays exact whichever sink
// refuses, and that a refusal by another sink is counted, not lost.
func TestTee(t *testing.T) {
	const runs, nodes = 20, 3
	produce := func(e *Engine) {
		for range runs {
			r := e.StartRun(RunInfo{AppID: "app"})
			for range nodes {
				r.StartNode("llm:1", "llm", "LLM").End()
			}
			r.End(0, "")
		}
		if err := e.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	const spans = runs * (1 + nodes)

	// The primary takes everything, the second sink refuses everything.
	mem, bad := &MemorySink{}, &failingSink{}
	tee, err := Tee(mem, bad)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(WithSink(tee), WithBatch(8, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	produce(e)
	s := e.Stats()
	checkIdentity(t, s)
	if s.Exported != spans || s.Dropped != 0 || len(mem.Runs()) != runs {
		t.Errorf("primary took: exported %d dropped %d runs %d, want %d, 0, %d", s.Exported, s.Dropped, len(mem.Runs()), spans, runs)
	}
	ts := tee.Stats()
	if ts[0].Taken != spans || ts[0].Refused != 0 || ts[1].Taken != 0 || ts[1].Refused != spans || !errors.Is(ts[1].Err, errRefused) {
		t.Errorf("tee stats %+v", ts)
	}
	if err := e.Shutdown(context.Background()); err != nil || bad.shutdowns != 1 {
		t.Errorf("shutdown: %v, second sink shut down %d times", err, bad.shutdowns)
	}

	// The primary refuses: the engine counts the spans as dropped by the
	// sink, the second sink still gets every run.
	bad, mem = &failingSink{}, &MemorySink{}
	tee, _ = Tee(bad, mem)
	e, err = New(WithSink(tee), WithBatch(8, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	produce(e)
	s = e.Stats()
	checkIdentity(t, s)
	if s.Exported != 0 || s.DroppedBy[DropSink] != spans || len(mem.Runs()) != runs {
		t.Errorf("primary refused: exported %d dropped by sink %d, second sink runs %d", s.Exported, s.DroppedBy[DropSink], len(mem.Runs()))
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}

	if _, err := Tee(nil); !errors.Is(err, ErrNilSink) {
		t.Errorf("Tee(nil): %v", err)
	}
	if _, err := Tee(mem, nil); !errors.Is(err, ErrNilSink) {
		t.Errorf("Tee(mem, nil): %v", err)
	}
}

// valueSink is a sink of a comparable value type.
type valueSink struct{ name string }

func (valueSink) Export([]*encode.Run) error       { return nil }
func (valueSink) ForceFlush(context.Context) error { return nil }
func (valueSink) Shutdown(context.Context) error   { return nil }

// sliceSink is a sink of a type == panics on.
type sliceSink []int

func (sliceSink) Export([]*encode.Run) error       { return nil }
func (sliceSink) ForceFlush(context.Context) error { return nil }
func (sliceSink) Shutdown(context.Context) error   { return nil }

// TestTeeDuplicateSink: Tee given the same sink twice, directly or in a
// TeeSink among its sinks, handed every batch to it twice, doubling every
// span it exported. Tee refuses it with ErrDuplicateSink; distinct
// sinks, sinks that are values, not pointers (copies), and pointers to a
// type of size zero (which Go may place at one address) are accepted.
func TestTeeDuplicateSink(t *testing.T) {
	a, b, c := &MemorySink{}, &MemorySink{}, &MemorySink{}
	inner, err := Tee(a, b)
	if err != nil {
		t.Fatal(err)
	}
	for name, sinks := range map[string][]Sink{
		"twice":           {a, a},
		"after another":   {a, b, a},
		"inside a tee":    {inner, a},
		"tee then inside": {a, inner},
		"tee twice":       {inner, inner},
	} {
		tee, err := Tee(sinks[0], sinks[1:]...)
		if !errors.Is(err, ErrDuplicateSink) || tee != nil || strings.Count(err.Error(), "engine:") != 1 {
			t.Errorf("%s: Tee = %v, %v; want ErrDuplicateSink", name, tee, err)
		}
	}
	for name, sinks := range map[string][]Sink{
		"distinct":        {a, b, c},
		"tee and another": {inner, c},
		"values":          {valueSink{"x"}, valueSink{"x"}}, // copies
		"slices":          {sliceSink{1}, sliceSink{1}},
		"zero-size":       {&spansOnlySink{}, &spansOnlySink{}}, // may share an address
	} {
		if _, err := Tee(sinks[0], sinks[1:]...); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
