package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"go.opentelemetry.io/otel/baggage"
	otelpropagation "go.opentelemetry.io/otel/propagation"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
	"github.com/flowtel/flowtel/otelbridge"
	"github.com/flowtel/flowtel/otlp"
	"github.com/flowtel/flowtel/propagation"
)

// TestMain checks that no test of the package leaves a goroutine behind.
// Idle keep-alive connections of http.DefaultClient (used by the Jaeger
// test under the e2e tag) are not leaks of ours.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"))
}

// listen returns a loopback listener.
func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return lis
}

// newEngine returns an engine of service name exporting to the receiver
// at addr over OTLP/gRPC.
func newEngine(t *testing.T, name, addr string) *engine.Engine {
	t.Helper()
	e, err := otlp.New(export.Config{Protocol: "grpc", Endpoint: addr, Insecure: true, ServiceName: name},
		engine.WithBatch(64, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// serviceC is a gRPC health service whose Check is C's work: a run joined
// from the incoming metadata, with one node.
type serviceC struct {
	healthpb.UnimplementedHealthServer
	e       *engine.Engine
	mu      sync.Mutex
	tenant  string
	carrier error
}

func (c *serviceC) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	run, bag, err := propagation.StartRunFromGRPC(ctx, c.e, engine.RunInfo{FlowID: "c", AppID: "app"})
	m, _ := bag.Get("tenant")
	c.mu.Lock()
	c.tenant, c.carrier = m.Value(), err
	c.mu.Unlock()
	n := run.StartNode("tool:c", "tool", "lookup")
	n.Output(engine.String("status", "serving"))
	n.End()
	run.End(0, "ok")
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// TestThreeServices runs A → HTTP → B → gRPC → C on loopback, each service
// with its own engine exporting to one real OTLP receiver
// (internal/otlptest), and checks that
// the receiver gets one trace with the right parent for every span.
//
// A uses flowtel's API and carriers (propagation.InjectHTTP). B is instrumented
// by the real otelhttp (server) and otelgrpc (client) on B's
// engine.TracerProvider: its server span is a run that joins A's trace and
// its client span a node of that run. C extracts with
// propagation.StartRunFromGRPC.
func TestThreeServices(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	rc := otlptest.StartKeeping(t, otlptest.GRPC)
	addr := rc.Addr

	engA, engB, engC := newEngine(t, "svc-a", addr), newEngine(t, "svc-b", addr), newEngine(t, "svc-c", addr)

	// C: a gRPC server.
	c := &serviceC{e: engC}
	cLis := listen(t)
	cSrv := grpc.NewServer()
	healthpb.RegisterHealthServer(cSrv, c)
	go cSrv.Serve(cLis)
	defer cSrv.Stop()
	// B's client to C, instrumented by the real otelgrpc on B's engine.
	prop := otelpropagation.NewCompositeTextMapPropagator(otelpropagation.TraceContext{}, otelpropagation.Baggage{})
	tpB := otelbridge.NewTracerProvider(engB)
	conn, err := grpc.NewClient(cLis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tpB), otelgrpc.WithPropagators(prop))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	healthC := healthpb.NewHealthClient(conn)

	// B: an HTTP server instrumented by the real otelhttp on B's engine.
	bMux := http.NewServeMux()
	bMux.HandleFunc("POST /b", func(w http.ResponseWriter, r *http.Request) {
		_, err := healthC.Check(r.Context(), &healthpb.HealthCheckRequest{})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprint(w, baggage.FromContext(r.Context()).Member("tenant").Value())
	})
	bHandler := otelhttp.NewHandler(bMux, "POST /b", otelhttp.WithTracerProvider(tpB), otelhttp.WithPropagators(prop))
	bLis := listen(t)
	bSrv := &http.Server{Handler: bHandler}
	go bSrv.Serve(bLis)
	defer bSrv.Close()

	// A: flowtel's own API and carrier.
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	runA := engA.StartRun(engine.RunInfo{FlowID: "a", AppID: "app"})
	nodeA := runA.StartNode("plugin:b", "plugin", "call B")
	bag, err := propagation.ParseBaggage("tenant=t%201")
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+bLis.Addr().String()+"/b", nil)
	if err != nil {
		t.Fatal(err)
	}
	propagation.InjectHTTP(req.Header, nodeA.SpanContext(), bag)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body [64]byte
	n, _ := resp.Body.Read(body[:])
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body[:n]) != "t 1" {
		t.Fatalf("B answered %d %q", resp.StatusCode, body[:n])
	}
	nodeA.End()
	runA.End(0, "ok")

	for _, e := range []*engine.Engine{engA, engB, engC} {
		if err := e.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if s := e.Stats(); s.Exported != 2 || s.Dropped != 0 || s.StaleCalls != 0 {
			t.Fatalf("engine stats %+v", s)
		}
	}
	c.mu.Lock()
	if c.tenant != "t 1" || c.carrier != nil {
		t.Fatalf("C saw baggage tenant %q, carrier error %v", c.tenant, c.carrier)
	}
	c.mu.Unlock()

	// Each span received, by its resource's service.name and its name.
	byName := map[string]*tracepb.Span{}
	service := map[string]string{} // span id → service.name
	for _, req := range rc.Traces() {
		for _, rs := range req.ResourceSpans {
			svc := ""
			for _, kv := range rs.Resource.GetAttributes() {
				if kv.Key == "service.name" {
					svc = kv.Value.GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					key := svc + " " + sp.Name
					if byName[key] != nil {
						t.Fatalf("span %q received twice", key)
					}
					byName[key], service[string(sp.SpanId)] = sp, svc
				}
			}
		}
	}
	items := rc.Items()
	if items[otlptest.Traces] != 6 || len(byName) != 6 || items[otlptest.Logs] != 3 {
		t.Fatalf("received %d spans and %d run logs, want 6 and 3: %v", items[otlptest.Traces], items[otlptest.Logs], byName)
	}
	// Each span and the span that must be its parent ("" for the root).
	want := []struct{ span, parent string }{
		{"svc-a run:a", ""},
		{"svc-a run_node:plugin:b", "svc-a run:a"},
		{"svc-b run:POST /b", "svc-a run_node:plugin:b"},
		{"svc-b run_node:grpc.health.v1.Health/Check", "svc-b run:POST /b"},
		{"svc-c run:c", "svc-b run_node:grpc.health.v1.Health/Check"},
		{"svc-c run_node:tool:c", "svc-c run:c"},
	}
	root := byName["svc-a run:a"]
	if root == nil {
		t.Fatalf("no root span: %v", byName)
	}
	for _, w := range want {
		sp := byName[w.span]
		if sp == nil {
			t.Fatalf("span %q missing: %v", w.span, byName)
		}
		if string(sp.TraceId) != string(root.TraceId) {
			t.Errorf("span %q is in trace %x, not %x", w.span, sp.TraceId, root.TraceId)
		}
		if w.parent == "" {
			if len(sp.ParentSpanId) != 0 {
				t.Errorf("root span %q has parent %x", w.span, sp.ParentSpanId)
			}
			continue
		}
		p := byName[w.parent]
		if string(sp.ParentSpanId) != string(p.SpanId) {
			t.Errorf("span %q has parent %x, want %q (%x)", w.span, sp.ParentSpanId, w.parent, p.SpanId)
		}
		// A run whose parent is in another service is marked remote.
		remote := service[string(sp.SpanId)] != service[string(p.SpanId)]
		if got := sp.Flags&0x300 == 0x300; got != remote {
			t.Errorf("span %q: is-remote %v, want %v (flags %#x)", w.span, got, remote, sp.Flags)
		}
	}
}
