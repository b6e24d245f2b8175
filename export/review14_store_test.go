package export

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

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
