package otlp

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestNoSecretPrinted runs an engine whose exporter carries header values
// and endpoint credentials against a receiver that refuses every request
// and echoes the headers it got back in its message. No error given to the
// error handlers or returned, no Prometheus series or label, and no Stats
// field holds a secret. (export's TestNoSecretPrinted covers every error
// path of the exporter itself.)
func TestNoSecretPrinted(t *testing.T) {
	const (
		user, pass, query, token = "user-5ecret-1", "pass-5ecret-2", "query-5ecret-3", "token-5ecret-4"
	)
	secrets := []string{user, pass, query, token, base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))}
	for _, protocol := range []string{otlptest.GRPC, otlptest.HTTP} {
		t.Run(strings.ReplaceAll(protocol, "/", "_"), func(t *testing.T) {
			r := otlptest.Start(t, protocol, func(c otlptest.Call) otlptest.Reply {
				return otlptest.Reply{Code: codes.Unauthenticated, Message: fmt.Sprint("denied: ", c.Header)}
			})
			var mu sync.Mutex
			var errs []string
			handle := func(err error) {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
			}
			cfg := export.Config{Protocol: protocol, Endpoint: "http://" + user + ":" + pass + "@" + r.Addr + "/?api_key=" + query,
				Headers: map[string]string{"X-Token": token}, ErrorHandler: handle}
			e, err := New(cfg, engine.WithBatch(10, 10*time.Millisecond), engine.WithErrorHandler(handle),
				engine.WithMetrics(engine.MetricsConfig{Interval: 20 * time.Millisecond}))
			if err != nil {
				t.Fatal(err)
			}
			for range 5 {
				run := e.StartRun(engine.RunInfo{AppID: "app", FlowID: "flow"})
				run.StartNode("n", "llm", "LLM").End()
				run.End(0, "")
			}
			for deadline := time.Now().Add(30 * time.Second); r.Calls() < 3 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if err := e.Shutdown(context.Background()); err != nil {
				handle(err)
			}
			xs, _ := ExporterStats(e)
			texts := append([]string{string(e.AppendPrometheus(nil)), fmt.Sprintf("%+v %+v", xs, e.Stats())}, errs...)
			if len(errs) == 0 || r.Header().Get("X-Token") != token {
				t.Fatalf("errors %v, receiver got %v: want the secrets sent and refused", errs, r.Header())
			}
			for _, text := range texts {
				for _, s := range secrets {
					if strings.Contains(text, s) {
						t.Errorf("the secret %q is printed: %s", s, text)
					}
				}
			}
		})
	}
}
