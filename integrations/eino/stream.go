package eino

import (
	"io"
	"strings"

	"github.com/cloudwego/eino/callbacks"
	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/schema"

	"github.com/flowtel/flowtel/engine"
)

// streamTextHint is the first size of a stream's text buffer.
const streamTextHint = 256

// streamText gathers the text of a stream's chunks. A stream of one chunk
// (a graph's output when its last node does not stream) keeps that chunk's
// string as it is; a buffer is allocated at the second.
type streamText struct {
	one string
	buf strings.Builder
}

func (t *streamText) len() int { return len(t.one) + t.buf.Len() }

// add appends piece; limit, the most the text may hold, bounds the
// buffer's first size.
func (t *streamText) add(piece string, limit int) {
	if t.buf.Cap() == 0 {
		if t.one == "" {
			t.one = piece
			return
		}
		// One buffer for most replies instead of a doubling series.
		t.buf.Grow(min(limit, max(streamTextHint, len(t.one)+len(piece))))
		t.buf.WriteString(t.one)
		t.one = ""
	}
	t.buf.WriteString(piece)
}

func (t *streamText) string() string {
	if t.buf.Cap() == 0 {
		return t.one
	}
	return t.buf.String()
}

// streamState is what a stream's reader gathers: counts and times (mono),
// the last usage and finish reason, and the bounded text.
type streamState struct {
	chunks   int
	first    int64
	st       modelStats
	text     streamText
	textFull bool
}

// readStream reads the handler's copy of s's streamed output to its end, then
// ends the node (or the run of the outermost invocation). It runs on its
// own goroutine: Eino's copies are independent readers of one source, so
// reading this one as the chunks come never blocks the caller's copy, and
// closing it when done lets Eino close the source once every copy is
// closed.
//
// The reader's frames are kept small: a new goroutine's stack starts at
// 2 KiB, and the reader parks inside Eino's copy (Recv, a sync.Once, a
// mutex or a channel: a dozen frames), so a frame of 400 bytes here, and
// 576 for the attributes at the end, made the runtime grow and copy the
// stack of every reader (runtime.copystack under drain was 2.5% of the
// process's time in a profile of BenchmarkGraph). readStream takes the span
// only: the context its end callback was given derives from the span, so
// the span's Err is the context's (cancelOf).
func readStream(s *span, sr *schema.StreamReader[callbacks.CallbackOutput]) {
	var d streamState
	for {
		out, err := sr.Recv()
		if err != nil {
			sr.Close()
			h := s.rs.h
			h.endDrain(s, &d, err)
			h.streams.Done()
			return
		}
		s.rs.h.chunk(s, &d, out)
	}
}

// chunk reads one chunk of s's stream into d.
//
//go:noinline
func (h *Handler) chunk(s *span, d *streamState, out callbacks.CallbackOutput) {
	if s.kind == kindModel && (!s.root || s.alsoNode) {
		// Every chunk of a model's stream, for the engine's GenAI
		// metrics (time per output chunk; the first is the node's
		// first frame).
		s.node.Chunk()
	}
	if d.chunks == 0 {
		// The handler reads the clock at the first chunk and at the
		// end only: a read per chunk was a fifth of the reader's own
		// time.
		d.first = mono()
		if (!s.root || s.alsoNode) && s.kind != kindModel {
			s.node.FirstFrame()
		}
		if s.root {
			// The first chunk the caller can read: the run's first frame.
			s.rs.run.FirstFrame()
		}
	}
	d.chunks++
	piece := ""
	switch s.kind {
	case kindModel:
		d.st.add(out)
		piece = d.st.content
	case kindTool:
		switch v := out.(type) {
		case *tool.CallbackOutput:
			piece = v.Response
		case string:
			piece = v
		}
	default:
		switch v := out.(type) {
		case string:
			piece = v
		case *schema.Message:
			if v != nil {
				piece = v.Content
			}
		case *model.CallbackOutput:
			if v.Message != nil {
				piece = v.Message.Content
			}
		}
	}
	if max := h.cfg.maxStream; !d.textFull && piece != "" {
		if d.text.len()+len(piece) > max {
			piece = bound(piece, max-d.text.len())
			d.textFull = true
		}
		d.text.add(piece, max)
	}
}

// endDrain records what readStream gathered and ends s, whose stream ended
// with err (io.EOF: its end). The attributes go out in functions of their
// own, each with its few on its own frame (see readStream).
//
//go:noinline
func (h *Handler) endDrain(s *span, d *streamState, err error) {
	if err != io.EOF {
		h.fail(s, s, err)
		return
	}
	last := d.first
	if d.chunks > 1 {
		last = mono()
	}
	if s.root && d.text.len() > 0 {
		s.rs.run.Answer(d.text.string())
	}
	if !s.root || s.alsoNode {
		text := d.text.string()
		h.streamOutput(s, d, last, text)
		if s.kind == kindModel {
			h.streamModel(s, d, text)
		}
		s.node.End()
	}
	if s.root {
		s.rs.code, s.rs.msg = CodeOK, h.cfg.okMessage
	}
	s.rs.release()
}

// streamOutput gives the node's output in one Output call: chunks, time
// per chunk, and a tool's result or another component's text.
//
//go:noinline
func (h *Handler) streamOutput(s *span, d *streamState, last int64, text string) {
	var out [3]engine.Attr
	n := 0
	if d.chunks > 0 {
		out[n] = engine.Int(KeyChunks, d.chunks)
		n++
		if d.chunks > 1 {
			out[n] = engine.Float64(KeyTimePerChunk, float64(last-d.first)/1e9/float64(d.chunks-1))
			n++
		}
	}
	switch s.kind {
	case kindModel:
	case kindTool:
		out[n] = engine.String(KeyToolResult, text)
		n++
	default:
		if text != "" {
			out[n] = engine.String(KeyOutput, text)
			n++
		}
	}
	if n > 0 {
		s.node.Output(out[:n]...)
	}
}

// streamModel records a model's reply, its span attributes (time to first
// chunk, finish reason) in one SetAttributes call, and its usage.
//
//go:noinline
func (h *Handler) streamModel(s *span, d *streamState, text string) {
	n := s.node
	if text != "" {
		n.LLMOutput(text)
	}
	var sp [2]engine.Attr
	ns := 0
	if d.chunks > 0 {
		sp[ns] = engine.Float64(KeyFirstChunk, float64(d.first-s.started)/1e9)
		ns++
	}
	if d.st.finish != "" {
		sp[ns] = engine.String(KeyFinishReason, d.st.finish)
		ns++
	}
	if ns > 0 {
		n.SetAttributes(sp[:ns]...)
	}
	d.st.recordUsage(n)
}
