package export

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// FuzzHTTPStoreLinkIsPut puts a value under a key and checks that the
// path the server received is the path of Link(key), byte for byte, for
// base paths holding escapes. Before, Put dropped the base's escapes and
// escaped the key its own way: under ".../my%2Fbucket/" the value went to
// "/my/bucket/k" while the link named "/my%2Fbucket/k" (another object
// where "%2F" is not "/"), and the key "a;b" went to "a;b", linked as
// "a%3Bb"; and a base ending with "?" linked "base?key".
func FuzzHTTPStoreLinkIsPut(f *testing.F) {
	var mu sync.Mutex
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.URL.EscapedPath()
		mu.Unlock()
	}))
	f.Cleanup(srv.Close)
	for _, c := range [][2]string{
		{"/my%2Fbucket/", "k1"}, {"/my%2Fbucket", "a;b"}, {"/a%41b", "a,b"}, {"/x y/", "a:b"},
		{"/", "a@b"}, {"/p", "a%2Fb"}, {"/%3B/", "é?#"}, {"", "k"}, {"/?", "0"}, {"/p/?sig=x", "k"},
	} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, path, key string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path // the server's host, not one in the path ("@host")
		}
		s, err := NewHTTPStore(srv.URL+path, nil, nil)
		if err != nil {
			return // not a URL: NewHTTPStore's own tests cover the refusals
		}
		defer s.Close() // each store has its own connections
		mu.Lock()
		got = ""
		mu.Unlock()
		if err := s.Put(context.Background(), key, []byte("v")); err != nil {
			return // an invalid key, refused before any request
		}
		link, err := url.Parse(s.Link(key))
		if err != nil {
			t.Fatalf("Link(%q) = %q: %v", key, s.Link(key), err)
		}
		mu.Lock()
		defer mu.Unlock()
		if want := link.EscapedPath(); got != want {
			t.Fatalf("base %q, key %q: PUT to %q, link %q names %q", path, key, got, s.Link(key), want)
		}
		if !strings.HasSuffix(s.Link(key), url.PathEscape(key)) {
			t.Fatalf("Link(%q) = %q does not end with the escaped key", key, s.Link(key))
		}
	})
}
