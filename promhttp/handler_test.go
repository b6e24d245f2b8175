package promhttp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestHandler serves an engine's metrics on a loopback port: GET returns
// the collection engine.AppendPrometheus takes, HEAD its headers only,
// and other methods 405.
func TestHandler(t *testing.T) {
	e, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	run := e.StartRun(engine.RunInfo{AppID: "app", FlowID: "flow"})
	run.StartNode("llm:1", "llm", "LLM").End()
	run.End(0, "")
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(e))
	defer srv.Close()

	resp, body := testkit.Get(t, srv.URL+"/metrics")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != encode.PromContentType {
		t.Fatalf("GET: status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(string(body), `flowtel_node_executions_total{node_type="llm",status="ok"} 1`) {
		t.Errorf("GET body lacks the node:\n%s", body)
	}

	resp, err = http.Head(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ContentLength <= 0 {
		t.Errorf("HEAD: status %d, length %d", resp.StatusCode, resp.ContentLength)
	}

	resp, err = http.Post(srv.URL+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}
