package engine

import (
	"fmt"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/hdr"
)

// TestMetricsMemoExact folds one run three times, so that the second and
// third folds find in the memo (seriesMemo) what the first looked up, and
// checks that each fold counts exactly what a lookup per node counts: each
// series gets its nodes, a label cut is counted in ValuesTruncated per
// node, the overflow series per node, an invalid value goes to its
// repaired series. The run has more distinct values than memoSlots, so
// that values share slots and take turns in them.
func TestMetricsMemoExact(t *testing.T) {
	e := newMetricsEngine(t, WithMetrics(MetricsConfig{Limit: 24, LabelBytes: 8, NoExport: true}))
	str := func(k, v string) encode.Attr { return encode.Attr{Key: k, Value: encode.StringValue(v)} }
	const long, bad = "toolongmodel", "\xff\xff\xff" // cut to "toolongm"; repaired to "\uFFFD", as long
	models := []string{long, bad}
	for i := range memoSlots + 9 { // past the limit (the last ones go to the overflow series); 2 + this, prime, so that i*7 below reaches every one
		models = append(models, fmt.Sprintf("m%d", i))
	}
	run := &encode.Run{AppID: "app", FlowID: "flow", EndUnixNano: 1}
	wantOps := map[string]uint64{} // by request model label
	wantNodes := map[string]uint64{}
	var cuts uint64
	for i := range 3 * len(models) {
		model := models[i*7%len(models)]
		typ := []string{"llm", "toolongtype", "\xff\xff\xff", "llm2"}[i%4]
		n := &encode.Node{NodeType: typ, StartUnixNano: 0, EndUnixNano: 1000,
			Attrs: []encode.Attr{str("gen_ai.operation.name", "chat"), str("gen_ai.provider.name", "p"), str("gen_ai.request.model", model)}}
		run.Nodes = append(run.Nodes, n)
		label := model
		switch model {
		case long:
			label, cuts = long[:8], cuts+1
		case bad:
			label = "\uFFFD"
		}
		wantOps[label]++
		switch typ {
		case "toolongtype":
			wantNodes["toolongt"]++
			cuts++
		case "\xff\xff\xff":
			wantNodes["\uFFFD"]++
		default:
			wantNodes[typ]++
		}
	}
	for fold := uint64(1); fold <= 3; fold++ {
		before, overBefore := e.Stats().ValuesTruncated, e.metrics.genai.ops.Overflowed()
		e.metrics.observeRun(run)
		if got := e.Stats().ValuesTruncated - before; got != cuts {
			t.Errorf("fold %d: ValuesTruncated +%d, want %d: one per cut value", fold, got, cuts)
		}
		got := map[string]uint64{}
		var inSeries uint64
		e.metrics.genai.ops.Each(func(lv *hdr.LabelValues, s *genAIOpSeries, overflow bool) {
			var c uint64
			for i := range s.dur.counts {
				c += s.dur.counts[i].Load()
			}
			inSeries += c
			if !overflow {
				got[lv[2]] = c
			}
		})
		over := e.metrics.genai.ops.Overflowed() - overBefore
		if inSeries != fold*uint64(len(run.Nodes)) || over == 0 {
			t.Errorf("fold %d: %d nodes in the series, %d to the overflow in this fold; want %d in all and some past the limit", fold, inSeries, over, fold*uint64(len(run.Nodes)))
		}
		var kept uint64
		for label, c := range got {
			if c != fold*wantOps[label] {
				t.Errorf("fold %d: model %q counted %d, want %d", fold, label, c, fold*wantOps[label])
			}
			kept += wantOps[label]
		}
		if kept+over != uint64(len(run.Nodes)) {
			t.Errorf("fold %d: %d nodes in their series and %d in the overflow, want %d", fold, kept, over, len(run.Nodes))
		}
		e.metrics.nodes.Each(func(lv *hdr.LabelValues, s *nodeSeries, overflow bool) {
			if c := s.ok.Load(); !overflow && c != fold*wantNodes[lv[0]] {
				t.Errorf("fold %d: node type %q counted %d, want %d", fold, lv[0], c, fold*wantNodes[lv[0]])
			}
		})
	}
}
