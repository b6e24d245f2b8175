package engine

// Chunk records that the node received one streamed output chunk now: a
// streamed LLM call calls it once per chunk, the first included. The first
// chunk is also the node's first frame when FirstFrame was not called.
// The interval since the previous chunk is counted on the node in the
// bucket of gen_ai.client.operation.time_per_output_chunk it falls in,
// which the engine folds when the run ends (see Metrics). One clock
// reading, no allocation.
func (h Node) Chunk() {
	if n := h.begin(); n != nil {
		t := n.now()
		if n.Chunks == 0 {
			n.FirstChunkUnixNano = t
			if n.FirstFrameUnixNano == 0 {
				n.FirstFrameUnixNano = t
			}
		} else {
			gap := max(t-n.LastChunkUnixNano, 0)
			i := genAIBucket(gap/1e3, &genAIDurationMicros)
			if n.ChunkGaps[i] != ^uint32(0) {
				n.ChunkGaps[i]++
			}
			if n.Chunks == 1 || gap < n.ChunkGapMin {
				n.ChunkGapMin = gap
			}
			n.ChunkGapMax = max(n.ChunkGapMax, gap)
		}
		if n.Chunks != ^uint32(0) {
			n.Chunks++
		}
		n.LastChunkUnixNano = t
	}
}

// WithGenAISpanNames names and kinds the spans of GenAI nodes as the
// OpenTelemetry GenAI conventions (v1.41.0) do, instead of the original's
// "run_node:{node_id}" and INTERNAL: a node whose attributes
// (Node.SetAttributes) hold gen_ai.operation.name is named
// "{gen_ai.operation.name} {gen_ai.request.model}" with kind CLIENT for an
// inference (chat, text_completion, generate_content, embeddings; retrieval
// is INTERNAL), "execute_tool {gen_ai.tool.name}" (INTERNAL),
// "invoke_agent {gen_ai.agent.name}" (INTERNAL: an agent in this process),
// "create_agent {gen_ai.agent.name}" (CLIENT) and
// "invoke_workflow {gen_ai.workflow.name}" (INTERNAL); a kind set with
// SetSpanKind is kept. The node id stays in the span's node_id attribute
// and the run trace log is unchanged. The name is set when the run ends,
// on the pipeline goroutine, from the attribute strings the node already
// holds: no cost on the caller's path, no allocation. otlp.NewFromEnv
// turns it on when OTEL_SEMCONV_STABILITY_OPT_IN holds
// gen_ai_latest_experimental, as the conventions ask of instrumentations
// whose default names predate them.
func WithGenAISpanNames(on bool) Option {
	return optionFunc(func(c *config) { c.genAISpanNames = on })
}

// Token sums saturate: a sum of token counts (a run's Usage, the sums of
// flowtel_gen_ai_tokens_total and gen_ai.client.token.usage) that would
// pass math.MaxInt64 stays there (a run's sum of negative counts stays at
// math.MinInt64), each time counted in Stats.SumsSaturated, instead of
// wrapping to a value of the other sign (genAIMetrics.satAdd). Counts come from callers
// (Node.Usage, gen_ai.usage.* attributes), so any int64 is possible.

// addUsage returns u + o, each field saturated, counting the fields that
// saturated.
func (e *Engine) addUsage(u, o Usage) Usage {
	u, sat := u.AddSaturating(o)
	if sat != 0 {
		e.stats.sumsSaturated.Add(uint64(sat))
	}
	return u
}
