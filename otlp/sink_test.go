package otlp

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
)

// receiver is a real OTLP receiver (gRPC services and an HTTP handler) that
// decodes with the official types and keeps what arrives.
type receiver struct {
	coltrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
	logs  int
}

func (rc *receiver) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	rc.addTraces(req)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func (rc *receiver) addTraces(req *coltrace.ExportTraceServiceRequest) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			rc.spans = append(rc.spans, ss.Spans...)
		}
	}
}

type logsService struct {
	collogs.UnimplementedLogsServiceServer
	rc *receiver
}

func (l logsService) Export(_ context.Context, req *collogs.ExportLogsServiceRequest) (*collogs.ExportLogsServiceResponse, error) {
	l.rc.mu.Lock()
	defer l.rc.mu.Unlock()
	for _, rl := range req.ResourceLogs {
		for _, sl := range rl.ScopeLogs {
			l.rc.logs += len(sl.LogRecords)
		}
	}
	return &collogs.ExportLogsServiceResponse{}, nil
}

func startGRPCReceiver(t *testing.T) (*receiver, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{}
	srv := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(srv, rc)
	collogs.RegisterLogsServiceServer(srv, logsService{rc: rc})
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return rc, lis.Addr().String()
}

func startHTTPReceiver(t *testing.T) (*receiver, string) {
	t.Helper()
	rc := &receiver{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := &coltrace.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.addTraces(req)
		w.Header().Set("Content-Type", "application/x-protobuf")
	})
	mux.HandleFunc("POST /v1/logs", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := &collogs.ExportLogsServiceRequest{}
		if err := proto.Unmarshal(body, req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		logsService{rc: rc}.Export(r.Context(), req)
		w.Header().Set("Content-Type", "application/x-protobuf")
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(lis)
	t.Cleanup(func() { srv.Close() })
	return rc, "http://" + lis.Addr().String()
}

// TestOTLPEndToEnd sends runs through the real encoder and exporter to a
// real receiver and checks every span arrives once, with its parent: in
// batches the sink encodes whole and in batches it splits across its
// encoders.
func TestOTLPEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		proto string
		batch int
	}{{"grpc", 100}, {"http/protobuf", 100}, {"grpc", 1000}, {"http/protobuf", 1000}} {
		proto := tc.proto
		t.Run(fmt.Sprintf("%s/batch%d", proto, tc.batch), func(t *testing.T) {
			var rc *receiver
			var ep string
			if proto == "grpc" {
				rc, ep = startGRPCReceiver(t)
			} else {
				rc, ep = startHTTPReceiver(t)
			}
			e, err := New(export.Config{Protocol: proto, Endpoint: ep, Insecure: true}, engine.WithBatch(tc.batch, 10*time.Millisecond), engine.WithMetrics(engine.MetricsConfig{NoExport: true}))
			if err != nil {
				t.Fatal(err)
			}
			const runs, nodes = 500, 4
			for i := 0; i < runs; i++ {
				run := e.StartRun(engine.RunInfo{FlowID: "flow", AppID: "app", UID: "u", ChatID: "c", SID: "sid"})
				for k := 0; k < nodes; k++ {
					n := run.StartNode("llm:1", "llm", "LLM")
					n.Input(engine.String("q", "hello"))
					n.End()
				}
				run.End(0, "ok")
			}
			if err := e.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			s := e.Stats()
			checkIdentity(t, s)
			xs, _ := ExporterStats(e)
			tr := xs.Signals[export.Traces]
			if s.Exported != runs*(nodes+1) || tr.Exported != s.Exported || tr.InFlight != 0 {
				t.Fatalf("engine %+v exporter %+v", s, tr)
			}
			rc.mu.Lock()
			defer rc.mu.Unlock()
			if len(rc.spans) != runs*(nodes+1) || rc.logs != runs {
				t.Fatalf("received %d spans %d logs, want %d and %d", len(rc.spans), rc.logs, runs*(nodes+1), runs)
			}
			roots := map[string]bool{}
			seen := map[string]bool{}
			for _, sp := range rc.spans {
				if seen[string(sp.SpanId)] {
					t.Fatalf("span %q arrived twice", sp.Name)
				}
				seen[string(sp.SpanId)] = true
				if len(sp.ParentSpanId) == 0 {
					roots[string(sp.SpanId)] = true
				}
			}
			for _, sp := range rc.spans {
				if len(sp.ParentSpanId) != 0 && !roots[string(sp.ParentSpanId)] {
					t.Fatalf("span %q has a parent that never arrived", sp.Name)
				}
			}
			if len(roots) != runs {
				t.Fatalf("%d root spans, want %d", len(roots), runs)
			}
		})
	}
}

// TestOTLPSplitsLargeBatches sends a batch whose encoding is larger than a
// gRPC receiver's default 4 MiB limit: the sink splits it and every span
// arrives.
func TestOTLPSplitsLargeBatches(t *testing.T) {
	rc, ep := startGRPCReceiver(t)
	e, err := New(export.Config{Endpoint: ep, Insecure: true}, engine.WithBatch(10000, time.Hour), engine.WithMetrics(engine.MetricsConfig{NoExport: true}), engine.WithLimits(engine.Limits{ValueBytes: 1 << 20}))
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("a", 500<<10)
	const runs = 40 // 40 runs x 500 KiB = 20 MiB of traces
	for i := 0; i < runs; i++ {
		run := e.StartRun(engine.RunInfo{})
		n := run.StartNode("llm:1", "llm", "LLM")
		n.Input(engine.String("prompt", big))
		n.End()
		run.End(0, "")
	}
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	xs, _ := ExporterStats(e)
	tr := xs.Signals[export.Traces]
	if tr.Exported != runs*2 || tr.DroppedTotal() != 0 || tr.ExportedBatches < 5 {
		t.Fatalf("exporter %+v", tr)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.spans) != runs*2 {
		t.Fatalf("received %d spans, want %d", len(rc.spans), runs*2)
	}
}

// checkIdentity checks the engine's accounting identity.
func checkIdentity(t testing.TB, s engine.Stats) {
	t.Helper()
	if s.Accepted != s.Exported+s.Dropped+s.InFlight {
		t.Fatalf("accounting: accepted %d != exported %d + dropped %d + in flight %d", s.Accepted, s.Exported, s.Dropped, s.InFlight)
	}
}
