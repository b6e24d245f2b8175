package encode

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

// TestFSStoreLinkNamesTheFile stores values under keys Put accepts (no
// path separator) that hold URL syntax, and checks the link under a base
// URL, resolved as a client resolves it, names the file Put wrote and
// nothing else. Before, Link appended the key raw: "..%2fsecret" linked
// to the base's parent's "secret" once the server decoded %2f, "a?b" to
// "a" with a query, "a#b" to "a".
func TestFSStoreLinkNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	s, err := NewFSStore(dir, "https://files.example/trace/")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"..%2fsecret", "%2e%2e", "a?b=c", "a#b", "a b", "a%", "é", ".x"} {
		if err := s.Put(context.Background(), key, []byte("v")); err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
		if _, err := os.Stat(filepath.Join(dir, key)); err != nil {
			t.Fatalf("Put(%q) wrote no file named so: %v", key, err)
		}
		u, err := url.Parse(s.Link(key))
		if err != nil {
			t.Fatalf("Link(%q) = %q: %v", key, s.Link(key), err)
		}
		base, _ := url.Parse("https://files.example/trace/")
		u = base.ResolveReference(u)
		if u.Path != "/trace/"+key || u.RawQuery != "" || u.Fragment != "" {
			t.Errorf("Link(%q) = %q names path %q query %q fragment %q, want path %q alone", key, s.Link(key), u.Path, u.RawQuery, u.Fragment, "/trace/"+key)
		}
	}
}
