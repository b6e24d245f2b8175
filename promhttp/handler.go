package promhttp

import (
	"net/http"
	"strconv"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
)

// Handler returns an http.Handler that serves e's metrics in the
// Prometheus text format 0.0.4 (mount it at /metrics): a fresh cumulative
// collection per request, as engine.Engine.AppendPrometheus describes.
// It answers GET and HEAD; other methods get 405. It may be called
// concurrently. With a nil e every request gets 503 and says so, so that
// the scrape fails visibly (up is 0).
func Handler(e *engine.Engine) http.Handler { return handler{e: e} }

type handler struct{ e *engine.Engine }

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if h.e == nil {
		http.Error(w, "promhttp: Handler was given a nil engine", http.StatusServiceUnavailable)
		return
	}
	buf := encode.GetBuffer()
	defer encode.PutBuffer(buf)
	buf.B = h.e.AppendPrometheus(buf.B[:0])
	w.Header().Set("Content-Type", encode.PromContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(buf.B)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(buf.B)
	}
}
