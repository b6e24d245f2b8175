package engine

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// TestNilEngine calls every exported method of a nil *Engine (an engine
// field left unset, or New's result on error): each behaves as the zero
// Engine's with nothing counted, where each panicked on its first field.
// A method added to Engine fails the test until the table has it.
func TestNilEngine(t *testing.T) {
	var e *Engine
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	notStarted := func(err error) bool { return errors.Is(err, ErrNotStarted) }
	checks := map[string]func() bool{
		"StartRun": func() bool {
			r := e.StartRun(RunInfo{FlowID: "f"})
			n := r.StartNode("n", "code", "n")
			n.End()
			r.End(0, "")
			return r == Run{} && n == Node{}
		},
		"Stats":            func() bool { return e.Stats() == Stats{} },
		"ForceFlush":       func() bool { return notStarted(e.ForceFlush(ctx)) },
		"Shutdown":         func() bool { return notStarted(e.Shutdown(ctx)) },
		"Sink":             func() bool { return e.Sink() == nil },
		"Resource":         func() bool { return reflect.DeepEqual(e.Resource(), encode.Resource{}) },
		"Bottlenecks":      func() bool { return e.Bottlenecks() == nil },
		"AppendPrometheus": func() bool { return string(e.AppendPrometheus([]byte("x"))) == "x" },
		"RequestSeries":    func() bool { return e.RequestSeries("a", "f", 0) == RequestSeries{} },
		"RecordRequest":    func() bool { e.RecordRequest("a", "f", 0, time.Second); return true },
		"String":           func() bool { return e.String() == "engine.Engine(nil)" },
		"GoString":         func() bool { return e.GoString() == "engine.Engine(nil)" },
	}
	typ := reflect.TypeFor[*Engine]()
	for i := range typ.NumMethod() {
		name := typ.Method(i).Name
		check, ok := checks[name]
		if !ok {
			t.Errorf("Engine.%s is not in the table", name)
			continue
		}
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("nil *Engine: %s panics: %v", name, p)
				}
			}()
			if !check() {
				t.Errorf("nil *Engine: %s is not the zero Engine's result", name)
			}
		}()
	}
}
