package engine

import (
	"net/http"
	"strconv"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// MetricsHandler returns an http.Handler that serves the engine's metrics
// in the Prometheus text format 0.0.4 (mount it at /metrics). Every
// request takes a fresh cumulative collection, the same one the OTLP
// export takes: counters, gauges, and the latency histograms as
// "_bucket" (explicit bounds, MetricsConfig.Bounds, cumulative with
// "+Inf"), "_sum" and "_count" series, in microseconds. A series past a
// family's cardinality limit is exposed with otel_metric_overflow="true".
// The handler may be called concurrently; collections are serialised and
// never block recording.
func (e *Engine) MetricsHandler() http.Handler { return promHandler{m: e.metrics} }

type promHandler struct{ m *Metrics }

func (h promHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	buf := encode.GetBuffer()
	defer encode.PutBuffer(buf)
	buf.B = h.m.appendPrometheus(buf.B[:0])
	w.Header().Set("Content-Type", encode.PromContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(buf.B)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(buf.B)
	}
}

// appendPrometheus appends a cumulative collection in the Prometheus text
// format.
func (m *Metrics) appendPrometheus(dst []byte) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	ms, _ := m.col.collect(false, time.Now().UnixNano())
	return encode.AppendPrometheus(dst, ms)
}
