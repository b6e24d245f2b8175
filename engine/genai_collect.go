package engine

import (
	"strconv"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/internal/hdr"
)

// genAIDelta is the state of the GenAI families at the previous delta
// collection. It belongs to Metrics.mu, as the collector does.
type genAIDelta struct {
	hists map[*boundedHist]histCounts
	apps  map[*genAIAppSeries][2]uint64
	over  [7]uint64

	// The token usage and chunk times of the operation series merged
	// over error.type, rebuilt at each collection (the map and slice are
	// reused).
	mergedIdx map[mergedKey]int
	merged    []mergedAcc
}

// mergedKey identifies a series of the client metrics that have no
// error.type (gen_ai.client.token.usage, per token type, and the two
// chunk metrics): the operation labels but error.type, or the overflow
// series.
type mergedKey struct {
	lv       [genAIOpTokenLen]string
	overflow bool
}

// mergedAcc is what the operation series of one mergedKey hold but their
// durations.
type mergedAcc struct {
	key                                 mergedKey
	input, output, firstChunk, perChunk histRead
}

// histRead is a boundedHist as one collection reads it: its counts (the
// window's, for a delta collection) and min and max plus one (zero: none).
type histRead struct {
	histCounts
	lo, hi int64
}

// add merges o into r.
func (r *histRead) add(o histRead) {
	if o.lo == 0 {
		return
	}
	for i := range r.counts {
		r.counts[i] += o.counts[i]
	}
	r.sum += o.sum
	if r.lo == 0 || o.lo < r.lo {
		r.lo = o.lo
	}
	r.hi = max(r.hi, o.hi)
}

// histCounts are a boundedHist's buckets and sum, read at a collection.
type histCounts struct {
	counts [genAIBounds + 1]uint64
	sum    uint64
}

// genAI appends the GenAI families. A family with no series is left out,
// and so is a histogram series that recorded nothing: the chunk metrics
// of calls that did not stream, which a workload that never streams does
// not report at all, as the conventions ask.
func (c *collector) genAI(w window) {
	g := &c.m.genai
	if g.delta.hists == nil {
		g.delta.hists = make(map[*boundedHist]histCounts)
		g.delta.apps = make(map[*genAIAppSeries][2]uint64)
		g.delta.mergedIdx = make(map[mergedKey]int)
	}
	c.genAIMerged(w)
	c.genAIFamily(MetricGenAIOperationDuration, "GenAI operation duration: the node's, from start to end.", unitSeconds, w, g.ops.Len(), func() {
		g.ops.Each(func(lv *hdr.LabelValues, s *genAIOpSeries, overflow bool) {
			c.boundedPoint(c.genAIAttrs(genAIOpLabels, lv, overflow, "", ""), &s.dur, w, 1e6, genAIDurationBounds)
		})
	})
	chunks := func(name, desc string, pick func(*mergedAcc) histRead) {
		d := &g.delta
		n := 0
		for i := range d.merged {
			if pick(&d.merged[i]).lo != 0 {
				n++
			}
		}
		c.genAIFamily(name, desc, unitSeconds, w, n, func() {
			for i := range d.merged {
				a := &d.merged[i]
				c.histPoint(c.mergedAttrs(a, "", ""), pick(a), w, 1e6, genAIDurationBounds)
			}
		})
	}
	chunks(MetricGenAITimeToFirstChunk, "Time to receive the first chunk of a streamed GenAI operation: FirstTokenCost, else the first frame after the start.",
		func(a *mergedAcc) histRead { return a.firstChunk })
	chunks(MetricGenAITimePerOutputChunk, "Time per output chunk: each chunk after the first, from the previous one (Node.Chunk).",
		func(a *mergedAcc) histRead { return a.perChunk })
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

// genAIMerged merges the operation series over error.type, which the
// conventions give gen_ai.client.operation.duration only, into
// genAIDelta.merged, and appends gen_ai.client.token.usage from it (the
// chunk metrics follow the duration). Each histogram is read once.
func (c *collector) genAIMerged(w window) {
	d := &c.m.genai.delta
	clear(d.mergedIdx)
	clear(d.merged)
	d.merged = d.merged[:0]
	tokens := 0
	c.m.genai.ops.Each(func(lv *hdr.LabelValues, s *genAIOpSeries, overflow bool) {
		in, out := c.readHist(&s.input, w), c.readHist(&s.output, w)
		first, per := c.readHist(&s.firstChunk, w), c.readHist(&s.perChunk, w)
		if in.lo == 0 && out.lo == 0 && first.lo == 0 && per.lo == 0 {
			return
		}
		key := mergedKey{lv: [genAIOpTokenLen]string(lv[:genAIOpTokenLen]), overflow: overflow}
		i, ok := d.mergedIdx[key]
		if !ok {
			i = len(d.merged)
			d.mergedIdx[key] = i
			d.merged = append(d.merged, mergedAcc{key: key})
		}
		a := &d.merged[i]
		if (in.lo != 0 || out.lo != 0) && a.input.lo == 0 && a.output.lo == 0 {
			tokens++
		}
		a.input.add(in)
		a.output.add(out)
		a.firstChunk.add(first)
		a.perChunk.add(per)
	})
	c.genAIFamily(MetricGenAITokenUsage, "Number of input and output tokens used, per GenAI operation (gen_ai.usage.* or Node.Usage).", unitTokens, w, tokens, func() {
		for i := range d.merged {
			a := &d.merged[i]
			c.histPoint(c.mergedAttrs(a, keyGenAITokenType, "input"), a.input, w, 1, genAITokenBounds)
			c.histPoint(c.mergedAttrs(a, keyGenAITokenType, "output"), a.output, w, 1, genAITokenBounds)
		}
	})
}

// mergedAttrs returns the attributes of a's series, then extraKey=extra
// when set (see genAIAttrs).
func (c *collector) mergedAttrs(a *mergedAcc, extraKey, extra string) []encode.Attr {
	var lv hdr.LabelValues
	copy(lv[:], a.key.lv[:])
	return c.genAIAttrs(genAIOpTokenLabels, &lv, a.key.overflow, extraKey, extra)
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
// server.port is an int, as the conventions type it (serverPort made its
// label of one).
func (c *collector) genAIAttrs(names []string, lv *hdr.LabelValues, overflow bool, extraKey, extra string) []encode.Attr {
	k := len(c.attrs)
	if overflow {
		c.attrs = append(c.attrs, overflowAttr)
	} else {
		for i, name := range names {
			if lv[i] != "" {
				c.attrs = append(c.attrs, genAIAttr(name, lv[i]))
			}
		}
	}
	if extraKey != "" {
		c.attrs = append(c.attrs, String(extraKey, extra))
	}
	return c.attrs[k:len(c.attrs):len(c.attrs)]
}

// genAIAttr returns the attribute of the label name=v: a string, but a
// server.port's int.
func genAIAttr(name, v string) encode.Attr {
	if name == keyServerPort {
		if p, err := strconv.ParseInt(v, 10, 64); err == nil {
			return Int64(name, p)
		}
	}
	return String(name, v)
}

// genAIAppAttrs returns the static labels, app_id and func (or
// otel.metric.overflow) and gen_ai.token.type.
func (c *collector) genAIAppAttrs(lv *hdr.LabelValues, overflow bool, tokenType string) []encode.Attr {
	k := len(c.attrs)
	c.requestAttrs(lv, overflow, false) // appended to c.attrs, from k
	c.attrs = append(c.attrs, String(keyGenAITokenType, tokenType))
	return c.attrs[k:len(c.attrs):len(c.attrs)]
}

// boundedPoint appends a point of h (see histPoint).
func (c *collector) boundedPoint(attrs []encode.Attr, h *boundedHist, w window, div float64, bounds []float64) {
	c.histPoint(attrs, c.readHist(h, w), w, div, bounds)
}

// readHist reads h for the collection w: its counts, or for a delta
// collection their increase since the previous one.
func (c *collector) readHist(h *boundedHist, w window) histRead {
	var r histRead
	for i := range r.counts {
		r.counts[i] = h.counts[i].Load()
	}
	r.sum = h.sum.Load()
	r.lo, r.hi = h.min.Load(), h.max.Load()
	if w.delta && r.lo != 0 {
		d := c.m.genai.delta.hists
		prev := d[h]
		d[h] = r.histCounts
		for i := range r.counts {
			r.counts[i] -= prev.counts[i]
		}
		r.sum -= prev.sum
	}
	return r
}

// histPoint appends a point of r, its values divided by div (1e6 turns
// microseconds into seconds) over bounds. A histogram that never recorded
// gives no point.
func (c *collector) histPoint(attrs []encode.Attr, r histRead, w window, div float64, bounds []float64) {
	if r.lo == 0 {
		return // nothing recorded yet
	}
	var count uint64
	k := len(c.counts)
	for _, n := range r.counts {
		count += n
		c.counts = append(c.counts, n)
	}
	p := encode.MetricPoint{
		Attrs: attrs, StartUnixNano: w.start, TimeUnixNano: w.now,
		Count: count, Sum: float64(r.sum) / div, Bounds: bounds,
		BucketCounts: c.counts[k:len(c.counts):len(c.counts)],
	}
	if !w.delta {
		// Min and max are of every value so far: cumulative points only.
		p.HasMinMax, p.Min, p.Max = true, float64(r.lo-1)/div, float64(r.hi-1)/div
	}
	c.points = append(c.points, p)
}

// genAIOverflow appends the GenAI families' points of
// flowtel_metric_overflow_total: a family's point once it overflowed.
func (c *collector) genAIOverflow(w window) {
	g := &c.m.genai
	// The four operation families share one Vec, as the two node
	// families do: each reports its overflows.
	ops := g.ops.Overflowed()
	cur := [7]uint64{ops, ops, ops, ops, g.tools.Overflowed(), g.flows.Overflowed(), g.apps.Overflowed()}
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
