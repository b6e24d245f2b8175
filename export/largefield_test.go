package export

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestHTTPStore PUTs values to a real HTTP server on loopback: the body,
// basic authentication from the URL, the query and headers arrive, the
// link holds no credential, and a refusal is an error that prints none.
func TestHTTPStore(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, pass, _ := r.BasicAuth()
		if r.Method != http.MethodPut || user != "ak" || pass != "s3cret" || r.URL.Query().Get("sig") != "tok3n" || r.Header.Get("X-Bucket-Key") != "hdr-secret" {
			http.Error(w, "denied: s3cret tok3n", http.StatusForbidden)
			return
		}
		mu.Lock()
		got[r.URL.Path] = string(body)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	base := strings.Replace(srv.URL, "http://", "http://ak:s3cret@", 1) + "/bucket/logs?sig=tok3n"
	s, err := NewHTTPStore(base, http.Header{"X-Bucket-Key": {"hdr-secret"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if link := s.Link("spf0001-abc-input.q-1"); link != srv.URL+"/bucket/logs/spf0001-abc-input.q-1" {
		t.Errorf("link %q", link)
	}
	value := strings.Repeat("大", 5000)
	if err := s.Put(context.Background(), "spf0001-abc-input.q-1", []byte(value)); err != nil {
		t.Fatal(err)
	}
	if got["/bucket/logs/spf0001-abc-input.q-1"] != value {
		t.Errorf("server got %d values, want the one PUT", len(got))
	}

	// Refused: wrong password. The error names the status, not a secret.
	bad, err := NewHTTPStore(strings.Replace(base, "s3cret", "wrong-pass", 1), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = bad.Put(context.Background(), "k", []byte("v"))
	if !errors.Is(err, ErrLargeFieldStore) || !strings.Contains(err.Error(), "status 403") {
		t.Errorf("refused PUT: %v", err)
	}
	for _, secret := range []string{"s3cret", "tok3n", "hdr-secret", "wrong-pass"} {
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("error %q prints %q", err, secret)
		}
	}

	// Unreachable, and a context already ended: errors, no secret.
	srv2 := httptest.NewServer(http.NotFoundHandler())
	dead := strings.Replace(srv2.URL, "http://", "http://ak:s3cret@", 1) + "/?sig=tok3n"
	srv2.Close()
	d, _ := NewHTTPStore(dead, nil, nil)
	if err := d.Put(context.Background(), "k", []byte("v")); err == nil || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "tok3n") {
		t.Errorf("unreachable: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Put(ctx, "k", []byte("v")); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}

	for _, u := range []string{"", "ftp://x/", "localhost:9000", "http://u:p@/x?sig=tok3n"} {
		if _, err := NewHTTPStore(u, nil, nil); !errors.Is(err, ErrLargeFieldStore) || strings.Contains(err.Error(), "tok3n") {
			t.Errorf("NewHTTPStore(%q): %v", u, err)
		}
	}
	if err := s.Put(context.Background(), "../etc", nil); !errors.Is(err, ErrLargeFieldStore) {
		t.Errorf("key with a slash: %v", err)
	}
}

// TestHTTPStoreHeaderChecked is the regression test of a header that
// net/http refuses to send (a CR LF in a value, a space in a name, a
// newline in a second value) passing NewHTTPStore and then failing every
// Put: it is refused at construction, the error naming the header, never
// its value. A non-ASCII value is refused too, as in Config.Headers.
func TestHTTPStoreHeaderChecked(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) }))
	defer srv.Close()
	for _, h := range []http.Header{
		{"X-Token": {"s3cret\r\nX-Evil: 1"}},
		{"X Token": {"s3cret"}},
		{"X-Token": {"s3cret-é"}},
		{"X-Token": {"ok", "s3cret\n"}},
	} {
		s, err := NewHTTPStore(srv.URL, h, nil)
		if err == nil {
			err = s.Put(context.Background(), "k", []byte("v"))
			t.Errorf("header %q accepted; Put: %v", h, err)
			continue
		}
		if !errors.Is(err, ErrLargeFieldStore) || !errors.Is(err, ErrInvalidHeader) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("header %q: %v, want ErrLargeFieldStore and ErrInvalidHeader without the value", h, err)
		}
	}
	s, err := NewHTTPStore(srv.URL, http.Header{"X-Token": {"ok\tvalue"}, "Authorization": {"Bearer abc"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
}
