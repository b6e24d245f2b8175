package engine

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	colmetrics "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/flowtel/flowtel/export"
)

// metricsReceiver is a real OTLP/gRPC receiver of metrics (and traces and
// logs, which it accepts and ignores), decoding with the official types.
type metricsReceiver struct {
	colmetrics.UnimplementedMetricsServiceServer
	mu   sync.Mutex
	reqs []*colmetrics.ExportMetricsServiceRequest
}

func (rc *metricsReceiver) Export(_ context.Context, req *colmetrics.ExportMetricsServiceRequest) (*colmetrics.ExportMetricsServiceResponse, error) {
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, req)
	rc.mu.Unlock()
	return &colmetrics.ExportMetricsServiceResponse{}, nil
}

func (rc *metricsReceiver) requests() []*colmetrics.ExportMetricsServiceRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*colmetrics.ExportMetricsServiceRequest(nil), rc.reqs...)
}

type traceSink struct {
	coltrace.UnimplementedTraceServiceServer
}

func (traceSink) Export(context.Context, *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	return &coltrace.ExportTraceServiceResponse{}, nil
}

type logSink struct {
	collogs.UnimplementedLogsServiceServer
}

func (logSink) Export(context.Context, *collogs.ExportLogsServiceRequest) (*collogs.ExportLogsServiceResponse, error) {
	return &collogs.ExportLogsServiceResponse{}, nil
}

func startMetricsReceiver(t *testing.T) (*metricsReceiver, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &metricsReceiver{}
	srv := grpc.NewServer()
	colmetrics.RegisterMetricsServiceServer(srv, rc)
	coltrace.RegisterTraceServiceServer(srv, traceSink{})
	collogs.RegisterLogsServiceServer(srv, logSink{})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return rc, lis.Addr().String()
}

// newOTLPMetricsEngine returns an engine made by NewOTLP that sends to ep
// over gRPC, with mc.
func newOTLPMetricsEngine(t *testing.T, ep string, mc MetricsConfig) *Engine {
	t.Helper()
	e, err := NewOTLP(export.Config{Endpoint: ep, Insecure: true},
		WithBatch(100, 10*time.Millisecond), WithMetrics(mc))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Shutdown(context.Background()) })
	return e
}

// TestMetricsOTLPExport runs the periodic export against a real gRPC
// receiver: requests arrive while the engine runs, and the final export
// at Shutdown holds every run and node, with the exporter's own families.
func TestMetricsOTLPExport(t *testing.T) {
	for _, delta := range []bool{false, true} {
		name := "cumulative"
		if delta {
			name = "delta"
		}
		t.Run(name, func(t *testing.T) {
			rc, ep := startMetricsReceiver(t)
			e := newOTLPMetricsEngine(t, ep, MetricsConfig{Interval: 20 * time.Millisecond, Delta: delta})
			const runs = 25
			for range runs {
				run := e.StartRun(RunInfo{AppID: "app", FlowID: "flow"})
				run.StartNode("llm:1", "llm", "LLM").End()
				run.End(0, "")
			}
			// Wait (bounded) for a periodic export that saw the runs.
			deadline := time.Now().Add(30 * time.Second)
			for len(rc.requests()) < 2 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if err := e.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			reqs := rc.requests()
			if len(reqs) < 2 {
				t.Fatalf("%d metric exports, want periodic ones and a final one", len(reqs))
			}
			var total, nodes int64
			var hist uint64
			for _, req := range reqs {
				d := fromRequest(req)
				if delta {
					for _, p := range d.points[MetricRequests] {
						total += p.value
					}
					for _, p := range d.points[MetricNodeExecutions] {
						nodes += p.value
					}
					for _, p := range d.points[MetricRequestTime] {
						hist += p.count
					}
				} else if req == reqs[len(reqs)-1] {
					total = d.one(t, MetricRequests, map[string]string{"ret": "0"}).value
					nodes = d.one(t, MetricNodeExecutions, map[string]string{"node_type": "llm", "status": "ok"}).value
					hist = d.one(t, MetricRequestTime, nil).count
					if p := d.one(t, MetricExportItems, map[string]string{"signal": "traces", "result": "exported"}); p.value != 2*runs {
						t.Errorf("traces exported %d, want %d", p.value, 2*runs)
					}
					if len(d.points[MetricExportLatency]) != export.NumSignals || len(d.points[MetricExportQueueBytes]) != 1 {
						t.Errorf("export families: %v", d.points[MetricExportLatency])
					}
				}
			}
			if total != runs || nodes != runs || hist != runs {
				t.Errorf("requests %d, nodes %d, histogram count %d; want %d", total, nodes, hist, runs)
			}
			xs, _ := e.ExporterStats()
			if m := xs.Signals[export.Metrics]; m.Exported == 0 || m.DroppedTotal() != 0 || m.InFlight != 0 {
				t.Errorf("metrics signal: %+v", m)
			}
		})
	}
}
