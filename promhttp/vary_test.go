package promhttp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/flowtel/flowtel/engine"
)

// TestHandlerVaryKept mounts the handler behind middleware that names
// what it varies on before calling it, as CORS middleware does (rs/cors
// adds "Vary: Origin" to every request with an Origin) and as a
// compressing one may (Accept-Encoding). The handler replaced the field
// with its own "Accept-Encoding", so a cache served one origin's CORS
// answer to another; it must add Accept-Encoding once, beside the rest.
func TestHandlerVaryKept(t *testing.T) {
	e, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	for _, c := range []struct {
		pre  []string
		want []string
	}{
		{nil, []string{"Accept-Encoding"}},
		{[]string{"Origin"}, []string{"Origin", "Accept-Encoding"}},
		{[]string{"Origin, accept-encoding"}, []string{"Origin, accept-encoding"}},
		{[]string{"Origin", "Accept-Encoding"}, []string{"Origin", "Accept-Encoding"}},
		{[]string{"*"}, []string{"*"}},
	} {
		h := Handler(e)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, v := range c.pre {
				w.Header().Add("Vary", v)
			}
			h.ServeHTTP(w, r)
		}))
		for _, accept := range []string{"gzip", ""} {
			req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept-Encoding", accept)
			req.Header.Set("Origin", "https://grafana.example")
			resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Values("Vary"); !slices.Equal(got, c.want) {
				t.Errorf("Vary %q set before, Accept-Encoding %q: the response's Vary %q, want %q", c.pre, accept, got, c.want)
			}
		}
		srv.Close()
	}
}
