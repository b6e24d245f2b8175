package engine

import (
	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/hdr"
)

// genAIDelta is the state of the GenAI families at the previous delta
// collection. It belongs to Metrics.mu, as the collector does.
type genAIDelta struct {
	hists map[*boundedHist]histCounts
	apps  map[*genAIAppSeries][2]uint64
	over  [7]uint64
}

// histCounts are a boundedHist's buckets and sum, read at a collection.
type histCounts struct {
	counts [genAIBounds + 1]uint64
	sum    uint64
}

// genAI appends the GenAI families. A family with no series is left out,
// and so is a histogram series that recorded nothing (the chunk metrics of
// calls that did not stream).
func (c *collector) genAI(w window) {
	g := &c.m.genai
	if g.delta.hists == nil {
		g.delta.hists = make(map[*boundedHist]histCounts)
		g.delta.apps = make(map[*genAIAppSeries][2]uint64)
	}
	ops := func(name, desc string, pick func(*genAIOpSeries) *boundedHist) {
		c.genAIFamily(name, desc, unitSeconds, w, g.ops.Len(), func() {
			g.ops.Each(func(lv *hdr.LabelValues, s *genAIOpSeries, overflow bool) {
				c.boundedPoint(c.genAIAttrs(genAIOpLabels, lv, overflow, "", ""), pick(s), w, 1e6, genAIDurationBounds)
			})
		})
	}
	c.genAIFamily(MetricGenAITokenUsage, "Number of input and output tokens used, per GenAI operation (gen_ai.usage.* or Node.Usage).", unitTokens, w, g.tokens.Len(), func() {
		g.tokens.Each(func(lv *hdr.LabelValues, s *genAITokenSeries, overflow bool) {
			c.boundedPoint(c.genAIAttrs(genAIOpLabels[:4], lv, overflow, keyGenAITokenType, "input"), &s.input, w, 1, genAITokenBounds)
			c.boundedPoint(c.genAIAttrs(genAIOpLabels[:4], lv, overflow, keyGenAITokenType, "output"), &s.output, w, 1, genAITokenBounds)
		})
	})
	ops(MetricGenAIOperationDuration, "GenAI operation duration: the node's, from start to end.", func(s *genAIOpSeries) *boundedHist { return &s.dur })
	ops(MetricGenAITimeToFirstChunk, "Time to receive the first chunk of a streamed GenAI operation: FirstTokenCost, else the first frame after the start.", func(s *genAIOpSeries) *boundedHist { return &s.firstChunk })
	ops(MetricGenAITimePerOutputChunk, "Time per output chunk after the first (Node.Chunk), each chunk at its node's mean interval.", func(s *genAIOpSeries) *boundedHist { return &s.perChunk })
	c.genAIFamily(MetricGenAIToolDuration, "Duration of execute_tool nodes in seconds, by gen_ai.tool.name.", unitSeconds, w, g.tools.Len(), func() {
		g.tools.Each(func(lv *hdr.LabelValues, h *boundedHist, overflow bool) {
			c.boundedPoint(c.genAIAttrs(genAIToolLabels, lv, overflow, "", ""), h, w, 1e6, genAIDurationBounds)
		})
	})
	c.genAIFamily(MetricGenAIWorkflowDuration, "Duration of invoke_workflow, invoke_agent and create_agent nodes in seconds.", unitSeconds, w, g.flows.Len(), func() {
		g.flows.Each(func(lv *hdr.LabelValues, h *boundedHist, overflow bool) {
			c.boundedPoint(c.genAIAttrs(genAIFlowLabels, lv, overflow, "", ""), h, w, 1e6, genAIDurationBounds)
		})
	})
	c.genAIFamily(MetricGenAITokens, "Tokens of the runs' usage (the sum of their nodes' Node.Usage) by app_id, func (the flow id) and gen_ai.token.type.", unitTokens, w, g.apps.Len(), func() {
		g.apps.Each(func(lv *hdr.LabelValues, s *genAIAppSeries, overflow bool) {
			in, out := s.input.Load(), s.output.Load()
			if w.delta {
				prev := g.delta.apps[s]
				g.delta.apps[s] = [2]uint64{in, out}
				in, out = in-prev[0], out-prev[1]
			}
			c.sum(c.genAIAppAttrs(lv, overflow, "input"), w, in)
			c.sum(c.genAIAppAttrs(lv, overflow, "output"), w, out)
		})
	})
}

// genAIFamily appends one family, if it has a series, its points added
// by each.
func (c *collector) genAIFamily(name, desc, unit string, w window, series int, each func()) {
	if series == 0 {
		return
	}
	kind := encode.MetricHistogram
	if name == MetricGenAITokens {
		kind = encode.MetricSum
	}
	c.begin(name, desc, unit, kind, w)
	each()
	c.end()
}

// genAIAttrs returns the attributes of a series: its labels that are not
// empty (an attribute the node did not set is left out, not written
// empty), or otel.metric.overflow; then extraKey=extra when set.
func (c *collector) genAIAttrs(names []string, lv *hdr.LabelValues, overflow bool, extraKey, extra string) []encode.Attr {
	k := len(c.attrs)
	if overflow {
		c.attrs = append(c.attrs, overflowAttr)
	} else {
		for i, name := range names {
			if lv[i] != "" {
				c.attrs = append(c.attrs, String(name, lv[i]))
			}
		}
	}
	if extraKey != "" {
		c.attrs = append(c.attrs, String(extraKey, extra))
	}
	return c.attrs[k:len(c.attrs):len(c.attrs)]
}

// genAIAppAttrs returns the static labels, app_id and func (or
// otel.metric.overflow) and gen_ai.token.type.
func (c *collector) genAIAppAttrs(lv *hdr.LabelValues, overflow bool, tokenType string) []encode.Attr {
	k := len(c.attrs)
	c.attrs = append(c.attrs, c.m.static...)
	if overflow {
		c.attrs = append(c.attrs, overflowAttr)
	} else {
		c.attrs = append(c.attrs, String("app_id", lv[0]), String("func", lv[1]))
	}
	c.attrs = append(c.attrs, String(keyGenAITokenType, tokenType))
	return c.attrs[k:len(c.attrs):len(c.attrs)]
}

// boundedPoint appends a point of h, its values divided by div (1e6 turns
// microseconds into seconds) over bounds. A histogram that never recorded
// gives no point.
func (c *collector) boundedPoint(attrs []encode.Attr, h *boundedHist, w window, div float64, bounds []float64) {
	var cur histCounts
	for i := range cur.counts {
		cur.counts[i] = h.counts[i].Load()
	}
	cur.sum = h.sum.Load()
	lo, hi := h.min.Load(), h.max.Load()
	if lo == 0 {
		return // nothing recorded yet
	}
	v := cur
	if w.delta {
		prev := c.m.genai.delta.hists[h]
		c.m.genai.delta.hists[h] = cur
		for i := range v.counts {
			v.counts[i] -= prev.counts[i]
		}
		v.sum -= prev.sum
	}
	var count uint64
	k := len(c.counts)
	for _, n := range v.counts {
		count += n
		c.counts = append(c.counts, n)
	}
	p := encode.MetricPoint{
		Attrs: attrs, StartUnixNano: w.start, TimeUnixNano: w.now,
		Count: count, Sum: float64(v.sum) / div, Bounds: bounds,
		BucketCounts: c.counts[k:len(c.counts):len(c.counts)],
	}
	if !w.delta {
		// Min and max are of every value so far: cumulative points only.
		p.HasMinMax, p.Min, p.Max = true, float64(lo-1)/div, float64(hi-1)/div
	}
	c.points = append(c.points, p)
}

// genAIOverflow appends the GenAI families' points of
// flowtel_metric_overflow_total: a family's point once it overflowed.
func (c *collector) genAIOverflow(w window) {
	g := &c.m.genai
	// The three operation families share one Vec, as the two node
	// families do: each reports its overflows.
	ops := g.ops.Overflowed()
	cur := [7]uint64{g.tokens.Overflowed(), ops, ops, ops, g.tools.Overflowed(), g.flows.Overflowed(), g.apps.Overflowed()}
	d := cur
	if w.delta {
		for i := range d {
			d[i] -= g.delta.over[i]
		}
		g.delta.over = cur
	}
	names := [7]string{MetricGenAITokenUsage, MetricGenAIOperationDuration, MetricGenAITimeToFirstChunk, MetricGenAITimePerOutputChunk,
		MetricGenAIToolDuration, MetricGenAIWorkflowDuration, MetricGenAITokens}
	for i, name := range names {
		if cur[i] != 0 {
			c.sum(c.attrs1("metric", name), w, d[i])
		}
	}
}
