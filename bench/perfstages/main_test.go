package main

import (
	"strings"
	"testing"
)

// traces is `go tool pprof -traces` output in its format: a sample's
// value and leaf frame on one line, its callers below, samples separated
// by dashed lines.
const traces = `File: loadgen
Type: cpu
Duration: 8s, Total samples = 1.23s (15.38%)
-----------+-------------------------------------------------------
      10ms   runtime.memmove
             github.com/flowtel/flowtel/encode.(*Encoder).writeNodeSpan
             github.com/flowtel/flowtel/encode.(*Encoder).AppendTraces
             github.com/flowtel/flowtel/otlp.(*Sink).send
             github.com/flowtel/flowtel/engine.(*Engine).exportStage
-----------+-------------------------------------------------------
      20ms   github.com/flowtel/flowtel/engine.(*nodeRecord).reset (inline)
             github.com/flowtel/flowtel/engine.(*Engine).release
             github.com/flowtel/flowtel/engine.(*Engine).exportStage
-----------+-------------------------------------------------------
     1.20s   runtime.mallocgc
             github.com/flowtel/flowtel/engine.Run.startNode
             main.(*flowtelDriver).startNode
             main.(*worker).loop
-----------+-------------------------------------------------------
      30ms   internal/runtime/syscall/linux.Syscall6
             syscall.Write
             google.golang.org/grpc/internal/transport.(*loopyWriter).run
             google.golang.org/grpc/internal/transport.NewHTTP2Client.func6
-----------+-------------------------------------------------------
      40ms   github.com/flowtel/flowtel/bench.isRoot
             github.com/flowtel/flowtel/bench.CountSpans
             google.golang.org/grpc.(*Server).handleRawConn.func1
-----------+-------------------------------------------------------
      50ms   runtime.scanobject
             runtime.gcDrain
             runtime.gcBgMarkWorker
-----------+-------------------------------------------------------
      60ms   main.(*workload).plan
             main.(*worker).loop
-----------+-------------------------------------------------------
      70ms   runtime.findRunnable
             runtime.schedule
             runtime.mcall
`

// TestAttribute checks the samples of pprof's -traces text go to the
// stages the package doc names, with their values.
func TestAttribute(t *testing.T) {
	ns, total, err := attribute(strings.NewReader(traces))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		"encode": 10e6, "pipeline": 20e6, "capture": 1200e6, "gRPC send": 30e6,
		"receive/count": 40e6, "GC": 50e6, "workload": 60e6, "runtime": 70e6,
	}
	var sum int64
	for i, s := range stages {
		if ns[i] != want[s.name] {
			t.Errorf("stage %s: %d ns, want %d", s.name, ns[i], want[s.name])
		}
		sum += ns[i]
	}
	if total != sum || total != 1480e6 {
		t.Errorf("total %d, stages sum %d, want 1480e6", total, sum)
	}
}

// TestAttributeEmpty checks a profile without samples is an error, not a
// table of zeros.
func TestAttributeEmpty(t *testing.T) {
	if _, _, err := attribute(strings.NewReader("File: loadgen\nType: cpu\n")); err == nil {
		t.Fatal("no error for a profile without samples")
	}
}
