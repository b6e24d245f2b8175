package export

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestHTTPStoreHostileServer points an HTTPStore at stores that misbehave:
// one that redirects (to a second server that must receive nothing), one
// that never answers, one that answers with an endless body, one that
// drops the connection, and one that echoes the request's credentials in
// its answer. Every Put returns within its context, succeeds only on a
// 2xx, and no error shows a credential.
func TestHTTPStoreHostileServer(t *testing.T) {
	const secret = "s3cr3tTOKENvalue"
	var stolen atomic.Int64
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stolen.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer thief.Close()
	release := make(chan struct{})
	cases := []struct {
		name    string
		handler http.HandlerFunc
		ok      bool
	}{
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, thief.URL+"/steal?auth="+r.Header.Get("Authorization"), http.StatusTemporaryRedirect)
		}, false},
		{"never answers", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // fails once the client gives up
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}, false},
		{"endless body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			chunk := []byte(strings.Repeat("x", 32<<10))
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, true},
		{"drops the connection", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, false},
		{"echoes credentials", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Echo", r.Header.Get("Authorization")+r.URL.RawQuery)
			http.Error(w, "denied: "+r.Header.Get("Authorization")+" "+r.URL.RawQuery, http.StatusForbidden)
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			u := strings.Replace(srv.URL, "http://", "http://user:"+secret+"@", 1) + "/bucket/?sig=" + secret
			// A Put that must fail gets 300 ms (the server that never
			// answers fails it by then); one that must succeed gets a
			// minute, so that a loaded machine's slow upload of its
			// 1 MiB does not fail it.
			clientTimeout, timeout := 2*time.Second, 300*time.Millisecond
			if tc.ok {
				clientTimeout, timeout = time.Minute, time.Minute
			}
			s, err := NewHTTPStore(u, http.Header{"X-Api-Key": {secret}}, NewHTTPStoreClient(clientTimeout))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- s.Put(ctx, "run-1-answer-1", []byte(strings.Repeat("v", 1<<20))) }()
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("Put did not return a minute after its context ended")
			}
			if (err == nil) != tc.ok {
				t.Errorf("Put: %v, want success %t", err, tc.ok)
			}
			if err != nil && (strings.Contains(err.Error(), secret) || !errors.Is(err, ErrLargeFieldStore)) {
				t.Errorf("Put's error shows a credential or does not wrap ErrLargeFieldStore: %v", err)
			}
			if l := s.Link("k"); strings.Contains(l, secret) {
				t.Errorf("Link shows a credential: %s", l)
			}
		})
	}
	close(release)
	if n := stolen.Load(); n != 0 {
		t.Errorf("the redirect's target received %d requests", n)
	}
}

// TestHTTPStoreOwnClientRedirect gives NewHTTPStore a client of the
// caller's own (as one does for a TLS configuration), whose redirect
// policy is net/http's default, and a store that answers every PUT with
// a 307 to another server: that server must receive nothing, neither the
// value nor the store's headers. Before, the client followed the 307 and
// sent the PUT again, body and X-Api-Key included (net/http forwards every
// header but Authorization and cookies to another host).
func TestHTTPStoreOwnClientRedirect(t *testing.T) {
	const secret = "s3cr3tTOKENvalue"
	var got atomic.Value
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Method + " " + r.Header.Get("X-Api-Key"))
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer thief.Close()
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, thief.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer store.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	s, err := NewHTTPStore(store.URL+"/bucket/", http.Header{"X-Api-Key": {secret}}, client)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Put(context.Background(), "run-1-answer-1", []byte("value"))
	if err == nil {
		t.Error("Put of a value the store redirected succeeded")
	}
	if v := got.Load(); v != nil {
		t.Errorf("the redirect's target received %q", v)
	}
	if client.CheckRedirect != nil {
		t.Error("NewHTTPStore changed the caller's client")
	}
}
