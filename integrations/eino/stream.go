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
		chunks      int
		first, last time.Time
		st          modelStats
		text        strings.Builder
		textFull    bool
		max         = h.cfg.maxStream
		err         error
	)
	for {
		var out callbacks.CallbackOutput
		out, err = sr.Recv()
		if err != nil {
			break
		}
		now := time.Now()
		if chunks == 0 {
			first = now
			if !s.root || s.alsoNode {
				s.node.FirstFrame()
			}
			if s.root {
				// The first chunk the caller can read: the run's first frame.
				s.rs.run.FirstFrame()
			}
		}
		last = now
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
			if text.Cap() == 0 {
				// One buffer for most replies instead of a doubling series.
				text.Grow(min(max, streamTextHint))
			}
			if text.Len()+len(piece) > max {
				piece = bound(piece, max-text.Len())
				textFull = true
			}
			text.WriteString(piece)
		}
	}
	if err != io.EOF {
		h.fail(s, ctx, err)
		return
	}
	if s.root && text.Len() > 0 {
		s.rs.run.Answer(text.String())
	}
	if s.root && !s.alsoNode {
		s.rs.code, s.rs.msg = CodeOK, h.cfg.okMessage
		s.rs.release()
		return
	}
	n := s.node
	var out, sp attrs // one Output and one SetAttributes call
	if chunks > 0 {
		out.add(engine.Int(KeyChunks, chunks))
		if s.kind == kindModel {
			sp.add(engine.Float64(KeyFirstChunk, first.Sub(s.started).Seconds()))
		}
		if chunks > 1 {
			out.add(engine.Float64(KeyTimePerChunk, last.Sub(first).Seconds()/float64(chunks-1)))
		}
	}
	switch s.kind {
	case kindModel:
		if text.Len() > 0 {
			n.LLMOutput(text.String())
		}
		st.recordMeta(n, &sp)
	case kindTool:
		out.add(engine.String(KeyToolResult, text.String()))
	default:
		if text.Len() > 0 {
			out.add(engine.String(KeyOutput, text.String()))
		}
	}
	if out.n > 0 {
		n.Output(out.list()...)
	}
	if sp.n > 0 {
		n.SetAttributes(sp.list()...)
	}
	n.End()
	if s.root {
		s.rs.code, s.rs.msg = CodeOK, h.cfg.okMessage
	}
	s.rs.release()
}
