package otlp

import (
	"context"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestExportFailuresReachTheEngineHandler: NewFromEnv builds its exporter
// from the environment, whose export.Config has no ErrorHandler, and
// engine.WithErrorHandler reached only the pipeline: a collector that
// refused every request (a wrong API key: Unauthenticated, HTTP 401) had
// every span dropped, counted as a sink drop, and reported nowhere, not
// even by Shutdown. The engine's handler now receives the exporter's
// reports when the Config sets none (otlp.New too), credentials redacted.
func TestExportFailuresReachTheEngineHandler(t *testing.T) {
	const secret = "s3cret-api-key"
	for _, protocol := range []string{export.ProtocolGRPC, export.ProtocolHTTPProtobuf} {
		t.Run(protocol, func(t *testing.T) {
			rc := otlptest.Start(t, protocol, func(otlptest.Call) otlptest.Reply {
				return otlptest.Reply{Code: codes.Unauthenticated, Message: "bad key " + secret}
			})
			env := map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": rc.Endpoint(),
				"OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
				"OTEL_EXPORTER_OTLP_HEADERS":  "x-api-key=" + secret,
				"OTEL_SDK_DISABLED":           "false",
			}
			var mu sync.Mutex
			var reported []string
			e, err := newFromLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok },
				engine.WithErrorHandler(func(err error) {
					mu.Lock()
					defer mu.Unlock()
					reported = append(reported, err.Error())
				}))
			if err != nil {
				t.Fatal(err)
			}
			r := e.StartRun(engine.RunInfo{FlowID: "f", AppID: "a"})
			r.StartNode("a:1", "a", "a").End()
			r.End(0, "")
			_ = e.Shutdown(context.Background())
			s := e.Stats()
			if s.Exported != 0 || s.Drops(engine.DropSink) != 2 {
				t.Fatalf("stats %+v, want the 2 spans dropped as sink", s)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(reported) == 0 {
				t.Fatalf("every span dropped (%+v) and nothing reported to engine.WithErrorHandler", s)
			}
			for _, msg := range reported {
				if strings.Contains(msg, secret) {
					t.Errorf("a report prints the credential: %s", msg)
				}
			}
		})
	}
}
