package otlp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
	"github.com/flowtel/flowtel/internal/otlptest"
)

// runLogBodies returns the run trace log bodies the receiver kept.
func runLogBodies(rc *otlptest.Receiver) []string {
	var out []string
	for _, req := range rc.Logs() {
		for _, rl := range req.ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				for _, lr := range sl.LogRecords {
					out = append(out, lr.Body.GetStringValue())
				}
			}
		}
	}
	return out
}

// TestNewOffloadsLargeFields checks that New wires the store
// Config.LargeFields chooses: a large input of a node is stored, by an HTTP
// PUT to a real server on loopback or in a directory, the run trace log
// holds its link, and Shutdown waits for the store.
func TestNewOffloadsLargeFields(t *testing.T) {
	var mu sync.Mutex
	puts := map[string]string{}
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPut {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		mu.Lock()
		puts[r.URL.Path] = string(b)
		mu.Unlock()
	}))
	defer store.Close()
	dir := t.TempDir()
	big := strings.Repeat("x", 20<<10)
	for _, lf := range []export.LargeFieldConfig{{URL: store.URL + "/bucket?token=abc"}, {Dir: dir}} {
		rc := otlptest.StartKeeping(t, otlptest.GRPC)
		e, err := New(export.Config{Endpoint: rc.Endpoint(), Insecure: true, LargeFields: lf},
			engine.WithBatch(16, 10*time.Millisecond), engine.WithMetrics(engine.MetricsConfig{NoExport: true}),
			engine.WithLimits(engine.Limits{ValueBytes: 64 << 10}))
		if err != nil {
			t.Fatal(err)
		}
		r := e.StartRun(engine.RunInfo{SID: "spf0001@hf1", AppID: "app"})
		n := r.StartNode("llm:1", "llm", "LLM")
		n.Input(engine.String("prompt", big))
		n.End()
		r.End(0, "")
		if err := e.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if prom := string(e.AppendPrometheus(nil)); !strings.Contains(prom, `flowtel_offload_values_total{result="offloaded"} 1`) {
			t.Errorf("%+v: exposition without the offloaded value:\n%s", lf, grepLines(prom, "offload"))
		}
		bodies := runLogBodies(rc)
		if len(bodies) != 1 || !strings.Contains(bodies[0], encode.OffloadedPrefix) || strings.Contains(bodies[0], big) {
			t.Fatalf("%+v: run logs %d, first without the link or with the value", lf, len(bodies))
		}
		if strings.Contains(bodies[0], "token=abc") {
			t.Errorf("the link holds the store's query")
		}
		if lf.URL != "" {
			mu.Lock()
			n := len(puts)
			var got string
			for _, v := range puts {
				got = v
			}
			mu.Unlock()
			if n != 1 || got != big {
				t.Errorf("store got %d values", n)
			}
		} else {
			files, _ := os.ReadDir(dir)
			if len(files) != 1 {
				t.Fatalf("dir holds %d files", len(files))
			}
			if b, _ := os.ReadFile(filepath.Join(dir, files[0].Name())); string(b) != big {
				t.Errorf("file holds %d bytes", len(b))
			}
		}
	}
	if _, err := New(export.Config{LargeFields: export.LargeFieldConfig{URL: "ftp://u:pw@x/"}}); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("bad store URL: %v", err)
	}
}
