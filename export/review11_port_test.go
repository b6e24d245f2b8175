package export

import (
	"errors"
	"testing"
)

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
