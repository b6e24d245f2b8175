package testkit

import (
	"io"
	"net/http"
	"testing"
)

// Get fetches url with GET and returns the response, its body closed, and
// the body read to the end. Any error fails t. The connection is closed
// after the request, so no idle keep-alive connection (and its goroutines)
// outlives the test for goleak to report.
func Get(t testing.TB, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp, body
}
