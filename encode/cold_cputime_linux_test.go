//go:build linux

package encode_test

import (
	"strings"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/testkit"
)

// cloneAttrs copies as and their strings to memory of their own.
func cloneAttrs(as []encode.Attr) []encode.Attr {
	if as == nil {
		return nil
	}
	out := make([]encode.Attr, len(as))
	for i, a := range as {
		v := a.Value
		if v.Kind() == encode.KindString {
			v = encode.StringValue(strings.Clone(v.Str()))
		}
		out[i] = encode.Attr{Key: strings.Clone(a.Key), Value: v}
	}
	return out
}

// cloneBatch copies runs deeply: every run, node, attribute and string in
// memory of its own, as the engine's records are, where loadgenBatch
// shares its attribute slices between nodes.
func cloneBatch(runs []*encode.Run) []*encode.Run {
	out := make([]*encode.Run, len(runs))
	for i, r := range runs {
		c := *r
		c.SID, c.FlowID, c.Question, c.Answer = strings.Clone(r.SID), strings.Clone(r.FlowID), strings.Clone(r.Question), strings.Clone(r.Answer)
		c.Nodes = make([]*encode.Node, len(r.Nodes))
		for j, n := range r.Nodes {
			m := *n
			m.NodeID, m.NodeName, m.LLMOutput = strings.Clone(n.NodeID), strings.Clone(n.NodeName), strings.Clone(n.LLMOutput)
			m.Input, m.Output, m.Config = cloneAttrs(n.Input), cloneAttrs(n.Output), cloneAttrs(n.Config)
			m.Events = append([]encode.Event(nil), n.Events...)
			c.Nodes[j] = &m
		}
		out[i] = &c
	}
	return out
}

// TestCPUTimeCold prints, with -cputime, the thread CPU time AppendTraces
// takes per span on loadgen-shaped batches whose records are each in
// memory of their own (as the engine's are) and, in turn, on batches
// cycled through a set larger than the caches: what the encoder costs
// when its input is not in the cache, as in the pipeline, where another
// core wrote the records just before. It is why the loadgen's encode stage
// (bench/perfstages: 364 ns per span) costs more than the encode
// benchmarks (195-213 ns), whose one batch stays in the cache: a span
// reads about 1.3 KB of records (the 496-byte Node, its attributes at 48
// bytes each when these figures were measured, 32 since, their strings),
// and on the 2-vCPU AMD EPYC VM, medians of 6:
// hot 219.6 ns per span, 8 batches (L3) 233.3, 160 batches (memory) 315.2.
// Touching the next node's parts with loads before writing a span made
// every case slower (hot 237, memory 338 ns): a load that misses holds
// the encoder up however early it is issued. Prefetching them (the
// PREFETCHT0 hints of prefetchRanges and prefetchNodes, which retire at
// once) took memory from 309 to 280 ns (medians of 6 alternating runs;
// L3 237 either way), for 15 more ns hot, and the loadgen's encode stage
// from 827-1038 to 446-481 ns per span. Writing each request into the
// next of 32 buffers (dram-bufs), as the pipeline's pooled buffers are
// out of the cache, costs about 10 ns per span more than into one.
//
//	go test -run TestCPUTimeCold -v ./encode/ -cputime
func TestCPUTimeCold(t *testing.T) {
	testkit.NeedCPUTime(t)
	e := encode.NewEncoder(otlpBenchResource)
	base := loadgenBatch()
	spans := encode.NumSpans(base)
	for _, c := range []struct {
		name          string
		batches, bufs int
	}{{"hot", 1, 1}, {"l3", 8, 1}, {"dram", 160, 1}, {"dram-bufs", 160, 32}} {
		sets := make([][]*encode.Run, c.batches)
		for i := range sets {
			sets[i] = cloneBatch(base)
		}
		// With bufs > 1 each request is written into the next of bufs
		// buffers, out of the cache as the pipeline's pooled buffers,
		// which the exporter read last.
		bufs := make([][]byte, c.bufs)
		for i := range bufs {
			bufs[i] = e.AppendTraces(nil, sets[0])
		}
		k := 0
		next := func() {
			b := &bufs[k%len(bufs)]
			*b = e.AppendTraces((*b)[:0], sets[k%len(sets)])
			k++
		}
		testkit.PrintCPUTime("EncodeTracesLoadgenCold/"+c.name, spans, "span", next)
	}
}
