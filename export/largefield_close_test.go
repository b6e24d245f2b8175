package export

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"testing"
)

// reused runs do with a context that traces its request and reports
// whether the request went on an idle connection kept from an earlier
// one.
func reused(do func(ctx context.Context)) bool {
	var got bool
	do(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { got = i.Reused },
	}))
	return got
}

// get GETs url with c, reading the body whole so that the connection
// goes back to c's pool, with reused's report.
func get(t *testing.T, c *http.Client, url string) bool {
	t.Helper()
	return reused(func(ctx context.Context) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	})
}

// put Puts with s, with reused's report.
func put(t *testing.T, s *HTTPStore) bool {
	t.Helper()
	return reused(func(ctx context.Context) {
		if err := s.Put(ctx, "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
	})
}

// TestHTTPStoreCloseLeavesCallersConnections: a store's Close closed the
// idle connections of the client it was given: with a client whose
// Transport is nil, those of http.DefaultTransport, shared by the whole
// process, and with a caller's own, the caller's. An idle keep-alive
// connection of either to another loopback server must survive Close
// (the next request reuses it); the client the store made itself, and
// one of NewHTTPStoreClient, are the store's, and Close closes theirs
// (the next Put opens a new one).
func TestHTTPStoreCloseLeavesCallersConnections(t *testing.T) {
	ok := func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) }
	store := httptest.NewServer(http.HandlerFunc(ok))
	defer store.Close()
	other := httptest.NewServer(http.HandlerFunc(ok))
	defer other.Close()

	own := &http.Client{Transport: &http.Transport{}}
	defer own.CloseIdleConnections()
	for _, tc := range []struct {
		name   string
		client *http.Client
	}{
		{"nil Transport (http.DefaultTransport)", &http.Client{}},
		{"the caller's Transport", own},
	} {
		s, err := NewHTTPStore(store.URL, nil, tc.client)
		if err != nil {
			t.Fatal(err)
		}
		get(t, tc.client, other.URL)
		put(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if !get(t, tc.client, other.URL) {
			t.Errorf("%s: the store's Close closed the caller's idle connection to another server", tc.name)
		}
	}

	for _, tc := range []struct {
		name   string
		client *http.Client
	}{
		{"nil client", nil},
		{"NewHTTPStoreClient", NewHTTPStoreClient(0)},
	} {
		s, err := NewHTTPStore(store.URL, nil, tc.client)
		if err != nil {
			t.Fatal(err)
		}
		put(t, s)
		if !put(t, s) {
			t.Fatalf("%s: the second Put opened a new connection", tc.name)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if put(t, s) {
			t.Errorf("%s: the store's own idle connection outlived Close", tc.name)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
