package engine

import (
	"time"

	"github.com/flowtel/flowtel/encode"
)

// AppendPrometheus appends the engine's metrics to dst in the Prometheus
// text format 0.0.4 (content type encode.PromContentType) and returns the
// extended buffer; promhttp.Handler serves it at /metrics. Every call
// takes a fresh cumulative collection, the same one the OTLP export takes:
// counters, gauges, and the latency histograms as "_bucket" (explicit
// bounds, MetricsConfig.Bounds, cumulative with "+Inf"), "_sum" and
// "_count" series, in microseconds. A series past a family's cardinality
// limit is exposed with otel_metric_overflow="true". It may be called
// concurrently; collections are serialised and never block recording.
// The zero Engine appends nothing.
func (e *Engine) AppendPrometheus(dst []byte) []byte {
	if e == nil || e.metrics == nil {
		return dst
	}
	return e.metrics.appendPrometheus(dst)
}

// appendPrometheus appends a cumulative collection in the Prometheus text
// format.
func (m *Metrics) appendPrometheus(dst []byte) []byte {
	var err error
	defer func() { // after the unlock: the handler may collect
		if err != nil {
			m.e.cfg.errorHandler(err)
		}
	}()
	m.mu.Lock()
	defer m.mu.Unlock()
	ms, _ := m.col.collect(false, time.Now().UnixNano())
	err = m.col.takePanic()
	return encode.AppendPrometheus(dst, ms)
}
