package engine

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// zeroValues holds the zero value of every exported type of the package
// whose zero value a user can make (interfaces and aliases of other
// packages' types aside), pointers for the types used through one.
var zeroValues = map[string]any{
	"Bottleneck": Bottleneck{}, "DropReason": DropReason(0), "Engine": &Engine{},
	"Limits": &Limits{}, "MemorySink": &MemorySink{}, "Metrics": &Metrics{},
	"MetricsConfig": &MetricsConfig{}, "MetricsWindow": MetricsWindow{}, "Node": Node{},
	"NodeView": NodeView{}, "RequestSeries": RequestSeries{}, "Run": Run{},
	"RunInfo": &RunInfo{}, "RunView": RunView{}, "Sampler": &Sampler{},
	"SinkStats": &SinkStats{}, "SpanContext": SpanContext{}, "Stats": Stats{},
	"TailDecision": TailDecision(0), "TailPolicy": &TailPolicy{}, "TailRule": TailRule{},
	"TeeSink": &TeeSink{}, "TeeStats": TeeStats{},
}

// TestZeroValuesCovered fails when an exported type is added without its
// zero value in zeroValues, so that TestZeroValuesDoNotPanic covers it.
func TestZeroValuesCovered(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, s := range g.Specs {
				ts := s.(*ast.TypeSpec)
				if _, isIface := ts.Type.(*ast.InterfaceType); !ts.Name.IsExported() || ts.Assign != 0 || isIface {
					continue
				}
				if _, ok := zeroValues[ts.Name.Name]; !ok {
					t.Errorf("exported type %s has no zero value in zeroValues", ts.Name.Name)
				}
			}
		}
	}
}

// TestZeroValuesDoNotPanic calls every exported method of every zero value
// with zero arguments (a context with a deadline for a context): none may
// panic or wait for its context.
func TestZeroValuesDoNotPanic(t *testing.T) {
	for name, v := range zeroValues {
		rv := reflect.ValueOf(v)
		for i := range rv.NumMethod() {
			m, mname := rv.Method(i), rv.Type().Method(i).Name
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			args := make([]reflect.Value, m.Type().NumIn())
			for j := range args {
				if at := m.Type().In(j); at == reflect.TypeFor[context.Context]() {
					args[j] = reflect.ValueOf(ctx)
				} else {
					args[j] = reflect.Zero(at)
				}
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("zero %s.%s panics: %v", name, mname, p)
					}
				}()
				var out []reflect.Value
				if m.Type().IsVariadic() {
					out = m.CallSlice(args)
				} else {
					out = m.Call(args)
				}
				for _, o := range out {
					if err, ok := o.Interface().(error); ok && errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("zero %s.%s waited for its context: %v", name, mname, err)
					}
				}
			}()
			cancel()
		}
	}
}

func TestZeroEngine(t *testing.T) {
	var e Engine
	run := e.StartRun(RunInfo{FlowID: "f"})
	n := run.StartNode("llm:1", "llm", "x")
	n.End()
	run.End(0, "ok")
	s := e.Stats()
	if s.Accepted != 2 || s.Drops(DropShutdown) != 2 || s.InFlight != 0 {
		t.Errorf("zero Engine: %+v, want 2 spans accepted and dropped as shutdown", s)
	}
	for _, err := range []error{e.ForceFlush(context.Background()), e.Shutdown(context.Background())} {
		if !errors.Is(err, ErrNotStarted) {
			t.Errorf("zero Engine: %v, want ErrNotStarted", err)
		}
	}
	if b := e.AppendPrometheus(nil); len(b) != 0 {
		t.Errorf("zero Engine: AppendPrometheus = %q", b)
	}
}

func TestZeroTeeSink(t *testing.T) {
	if _, err := New(WithSink(&TeeSink{})); !errors.Is(err, ErrNilSink) {
		t.Errorf("New(WithSink(&TeeSink{})) = %v, want ErrNilSink", err)
	}
	var tee TeeSink
	if err := tee.Export(nil); !errors.Is(err, ErrNilSink) {
		t.Errorf("zero TeeSink: Export = %v, want ErrNilSink", err)
	}
	if err := tee.ExportLogs(nil); !errors.Is(err, ErrNilSink) {
		t.Errorf("zero TeeSink: ExportLogs = %v, want ErrNilSink", err)
	}
	// Behind an engine (in a Tee of its own), the batches it refuses are
	// counted as DropSink.
	outer, err := Tee(&tee)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(WithSink(outer), WithBatch(8, 5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	e.StartRun(RunInfo{FlowID: "f"}).End(0, "ok")
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := e.Stats(); s.Drops(DropSink) != 1 || s.Exported != 0 {
		t.Errorf("zero TeeSink behind an engine: %+v, want its span dropped as sink_error", s)
	}
}

func TestZeroViews(t *testing.T) {
	var v RunView
	if v.NumNodes() != 0 || v.Node(0) != (NodeView{}) || v.Node(-1) != (NodeView{}) || v.Failed() || v.Duration() != 0 {
		t.Error("zero RunView is not an empty run")
	}
	if _, ok := v.Attr("k"); ok {
		t.Error("zero RunView has an attribute")
	}
	var n NodeView
	if n.ID() != "" || n.Failed() || n.Duration() != 0 {
		t.Error("zero NodeView is not an empty node")
	}
}
