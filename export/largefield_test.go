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

// TestLargeFieldURLPort: the large-value store's URL takes the endpoint's
// port check (checkPort), where a port no connection can use (0, 70000)
// was taken and every value's PUT then failed.
func TestLargeFieldURLPort(t *testing.T) {
	for _, u := range []string{"http://store:0/b/", "https://store:70000/b/", "http://[::1]:65536/"} {
		if _, err := NewHTTPStore(u, nil, nil); !errors.Is(err, ErrLargeFieldStore) {
			t.Errorf("NewHTTPStore(%q) = %v, want ErrLargeFieldStore", u, err)
		}
		if _, _, err := parseEndpoint(u, true); err == nil {
			t.Errorf("parseEndpoint(%q) took it", u)
		}
	}
	s, err := NewHTTPStore("http://store:65535/b", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// A credential pasted into FLOWTEL_LARGE_FIELDS_URL (or NewHTTPStore's
// base URL) is refused without being printed, as an endpoint's is: a host
// of "api-key=<token>" was taken, and every PUT's transport error printed
// the token.
func TestHTTPStoreMisplacedCredential(t *testing.T) {
	const tok = "sekret-token-123"
	for _, v := range []string{
		"api-key=" + tok,
		"http://api-key=" + tok + "/",
		"https://api-key=" + tok + ":8443/bucket/",
		"Authorization=Bearer " + tok,
		"https://Authorization=Bearer " + tok,
		"x-api-key:" + tok,
	} {
		_, err := NewHTTPStore(v, nil, nil)
		if !errors.Is(err, ErrLargeFieldStore) {
			t.Errorf("NewHTTPStore(%q): %v, want ErrLargeFieldStore", v, err)
		} else if strings.Contains(err.Error(), tok) {
			t.Errorf("NewHTTPStore(%q): the error prints the token: %v", v, err)
		}
		_, err = FromLookup(lookupOf(map[string]string{"FLOWTEL_LARGE_FIELDS_URL": v}))
		if err == nil || !strings.Contains(err.Error(), "FLOWTEL_LARGE_FIELDS_URL") {
			t.Errorf("FLOWTEL_LARGE_FIELDS_URL=%q: %v, want it refused by name", v, err)
		} else if strings.Contains(err.Error(), tok) {
			t.Errorf("FLOWTEL_LARGE_FIELDS_URL=%q: the error prints the token: %v", v, err)
		}
	}

	// Real stores are still taken, and one on loopback stores.
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = r.Method + " " + r.URL.Path + " " + string(b)
	}))
	defer srv.Close()
	for _, v := range []string{"http://store_1:9000/b/", "https://S3.Example.COM./bucket/", "http://[::1]:9000/", "http://user:pw@minio:9000/b/?X-Amz-Signature=x"} {
		if _, err := NewHTTPStore(v, nil, nil); err != nil {
			t.Errorf("NewHTTPStore(%q): %v", v, err)
		}
	}
	client := NewHTTPStoreClient(0)
	defer client.CloseIdleConnections()
	s, err := NewHTTPStore(srv.URL+"/bucket", nil, client)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), "k1", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if got != "PUT /bucket/k1 v" {
		t.Errorf("store received %q", got)
	}
}
