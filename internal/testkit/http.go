package testkit

import (
	"io"
	"net/http"
	"testing"
)

// Get fetches url with GET and returns the response, its body closed, and
// the body read to the end. Any error fails t.
func Get(t testing.TB, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
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
