package export

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestHTTPStoreAuthorizationHeaderWins gives a store both user
// information in its URL and an Authorization header, under keys of any
// case, and checks the server receives the header alone, as net/http and
// the exporters send it (withBasicAuth). Before, Put set basic
// authentication over the header: the token configured was never sent, or,
// under a key not in canonical form, sent beside the basic credentials.
func TestHTTPStoreAuthorizationHeaderWins(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Values("Authorization")
		mu.Unlock()
	}))
	defer srv.Close()
	withUser := strings.Replace(srv.URL, "://", "://user:pass@", 1) + "/b/"
	for _, key := range []string{"Authorization", "authorization", "AUTHORIZATION"} {
		s, err := NewHTTPStore(withUser, http.Header{key: {"Bearer tok"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(context.Background(), "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		s.Close()
		mu.Lock()
		if len(got) != 1 || got[0] != "Bearer tok" {
			t.Errorf("header %q: the server received Authorization %q, want only the header's", key, got)
		}
		mu.Unlock()
	}
	// Without the header, the user information is the credential.
	s, err := NewHTTPStore(withUser, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Put(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !strings.HasPrefix(got[0], "Basic ") {
		t.Errorf("the server received Authorization %q, want basic authentication", got)
	}
}
