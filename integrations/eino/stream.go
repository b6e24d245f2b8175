package eino

import (
	"context"
	"io"
	"strings"
	"time"

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

// drain reads the handler's copy of a streamed output to its end, then
// ends the node (or the run of the outermost invocation). It runs on its
// own goroutine: Eino's copies are independent readers of one source, so
// reading this one as the chunks come never blocks the caller's copy, and
// closing it when done lets Eino close the source once every copy is
// closed.
func (h *Handler) drain(s *span, ctx context.Context, sr *schema.StreamReader[callbacks.CallbackOutput]) {
	defer h.streams.Done()
	defer sr.Close()
	var (
		chunks   int
		first    time.Time
		st       modelStats
		text     streamText
		textFull bool
		max      = h.cfg.maxStream
		err      error
	)
	for {
		var out callbacks.CallbackOutput
		out, err = sr.Recv()
		if err != nil {
			break
		}
		if s.kind == kindModel && (!s.root || s.alsoNode) {
			// Every chunk of a model's stream, for the engine's GenAI
			// metrics (time per output chunk; the first is the node's
			// first frame).
			s.node.Chunk()
		}
		if chunks == 0 {
			// The handler reads the clock at the first chunk and at the
			// end only: a read per chunk was a fifth of the reader's own
			// time.
			first = time.Now()
			if (!s.root || s.alsoNode) && s.kind != kindModel {
				s.node.FirstFrame()
			}
			if s.root {
				// The first chunk the caller can read: the run's first frame.
				s.rs.run.FirstFrame()
			}
		}
		chunks++
		piece := ""
		switch s.kind {
		case kindModel:
			st.add(out)
			piece = st.content
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
		if !textFull && piece != "" {
			if text.len()+len(piece) > max {
				piece = bound(piece, max-text.len())
				textFull = true
			}
			text.add(piece, max)
		}
	}
	if err != io.EOF {
		h.fail(s, ctx, err)
		return
	}
	last := first
	if chunks > 1 {
		last = time.Now()
	}
	if s.root && text.len() > 0 {
		s.rs.run.Answer(text.string())
	}
	if s.root && !s.alsoNode {
		s.rs.code, s.rs.msg = CodeOK, h.cfg.okMessage
		s.rs.release()
		return
	}
	h.endStream(s, chunks, first, last, &st, text.string())
}

// endStream records what drain gathered and ends the node. It is a
// function of its own so that drain's loop runs on a small frame (see
// Handler.input).
//
//go:noinline
func (h *Handler) endStream(s *span, chunks int, first, last time.Time, st *modelStats, text string) {
	n := s.node
	var out [3]engine.Attr // one Output and one SetAttributes call
	var sp [2]engine.Attr
	no, ns := 0, 0
	if chunks > 0 {
		out[no] = engine.Int(KeyChunks, chunks)
		no++
		if s.kind == kindModel {
			sp[ns] = engine.Float64(KeyFirstChunk, first.Sub(s.started).Seconds())
			ns++
		}
		if chunks > 1 {
			out[no] = engine.Float64(KeyTimePerChunk, last.Sub(first).Seconds()/float64(chunks-1))
			no++
		}
	}
	switch s.kind {
	case kindModel:
		if text != "" {
			n.LLMOutput(text)
		}
		if st.finish != "" {
			sp[ns] = engine.String(KeyFinishReason, st.finish)
			ns++
		}
		st.recordUsage(n)
	case kindTool:
		out[no] = engine.String(KeyToolResult, text)
		no++
	default:
		if text != "" {
			out[no] = engine.String(KeyOutput, text)
			no++
		}
	}
	if no > 0 {
		n.Output(out[:no]...)
	}
	if ns > 0 {
		n.SetAttributes(sp[:ns]...)
	}
	n.End()
	if s.root {
		s.rs.code, s.rs.msg = CodeOK, h.cfg.okMessage
	}
	s.rs.release()
}
