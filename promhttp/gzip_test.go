package promhttp

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/encode"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/internal/testkit"
)

// TestHandlerGzip scrapes on a loopback port with the Accept-Encoding
// headers scrapers send. Prometheus sends "gzip" and the body came back
// uncompressed whatever the size (861 KB a scrape with 200 applications,
// 43 KB gzipped). A body gzipped must decompress to a valid exposition
// (promtool) with the engine's series; gzip refused (q=0), not named, or
// no header must get the plain text; HEAD the same headers.
func TestHandlerGzip(t *testing.T) {
	e, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	for i := range 50 {
		run := e.StartRun(engine.RunInfo{AppID: fmt.Sprint("app-", i), FlowID: "flow"})
		run.StartNode("llm:1", "llm", "LLM").End()
		run.End(0, "")
	}
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Handler(e))
	defer srv.Close()
	// A transport that neither asks for gzip nor decompresses by itself.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	for _, c := range []struct {
		accept string
		gzip   bool
	}{
		{"gzip", true},
		{"gzip, deflate, br", true},
		{"deflate, GZIP;q=0.5", true},
		{"*", true},
		{"", false},
		{"identity", false},
		{"gzip;q=0", false},
		{"gzip; q=0.000, *", false},
	} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			req, err := http.NewRequest(method, srv.URL+"/metrics", nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.accept != "" {
				req.Header.Set("Accept-Encoding", c.accept)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			gzipped := resp.Header.Get("Content-Encoding") == "gzip"
			if resp.StatusCode != http.StatusOK || gzipped != c.gzip || resp.Header.Get("Content-Type") != encode.PromContentType ||
				resp.Header.Get("Vary") != "Accept-Encoding" || resp.ContentLength <= 0 {
				t.Errorf("%s, Accept-Encoding %q: status %d, headers %v, want gzip %v", method, c.accept, resp.StatusCode, resp.Header, c.gzip)
				continue
			}
			if method == http.MethodHead {
				continue
			}
			if int64(len(raw)) != resp.ContentLength {
				t.Errorf("Accept-Encoding %q: %d bytes, Content-Length %d", c.accept, len(raw), resp.ContentLength)
			}
			body := raw
			if gzipped {
				zr, err := gzip.NewReader(strings.NewReader(string(raw)))
				if err != nil {
					t.Fatalf("Accept-Encoding %q: %v", c.accept, err)
				}
				if body, err = io.ReadAll(zr); err != nil {
					t.Fatalf("Accept-Encoding %q: %v", c.accept, err)
				}
				if len(raw)*4 > len(body) {
					t.Errorf("Accept-Encoding %q: %d bytes gzipped from %d", c.accept, len(raw), len(body))
				}
			}
			if !strings.Contains(string(body), `flowtel_node_executions_total{node_type="llm",status="ok"} 50`) {
				t.Errorf("Accept-Encoding %q: the body lacks the nodes:\n%s", c.accept, body)
			}
			testkit.Promtool(t, body)
		}
	}
}
