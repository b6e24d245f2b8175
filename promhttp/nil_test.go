package promhttp

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/internal/testkit"
)

// TestHandlerNilEngine serves Handler(nil) on a loopback port: every
// scrape gets 503 saying why (Prometheus marks the target down). Each
// request panicked (net/http recovered it and closed the connection, so
// the scraper saw only a reset).
func TestHandlerNilEngine(t *testing.T) {
	srv := httptest.NewServer(Handler(nil))
	defer srv.Close()
	resp, body := testkit.Get(t, srv.URL+"/metrics")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "nil engine") {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}
}
