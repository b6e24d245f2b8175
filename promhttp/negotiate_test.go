package promhttp

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/engine"
)

// TestEncodingNegotiation follows RFC 9110 section 12.5.3: the coding with
// the highest q-value wins (gzip on a tie: the smaller body), "*" stands
// for each coding not named, identity included, identity is acceptable
// unless refused ("identity;q=0", or "*;q=0" without identity named) and
// is the fallback when neither it nor "*" is named, and
// a request that refuses both gets 406 Not Acceptable, not a body it said
// it cannot read. Before, gzip was sent whenever it was acceptable at all:
// to "gzip;q=0.5, identity" too, and plain text to "identity;q=0".
func TestEncodingNegotiation(t *testing.T) {
	e, err := engine.New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	srv := httptest.NewServer(Handler(e))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	const plain, gz, none = "identity", "gzip", "406"
	get := func(accept string) string {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept-Encoding", accept)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusNotAcceptable:
			return none
		case resp.StatusCode != http.StatusOK:
			t.Fatalf("Accept-Encoding %q: status %d", accept, resp.StatusCode)
		case resp.Header.Get("Content-Encoding") == "gzip":
			return gz
		case resp.Header.Get("Content-Encoding") != "":
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q", accept, resp.Header.Get("Content-Encoding"))
		}
		return plain
	}
	for accept, want := range map[string]string{
		"gzip;q=0.5, identity":               plain,
		"identity;q=1, gzip;q=0.999":         plain,
		"gzip;q=0.5, identity;q=0.5":         gz,
		"gzip;q=0.5":                         gz,
		"*;q=0.5":                            gz,
		"*;q=0.5, identity":                  plain,
		"gzip;q=0":                           plain,
		"gzip;q=0, identity;q=0":             none,
		"identity;q=0":                       none,
		"identity;q=0, gzip;q=0.1":           gz,
		"*;q=0":                              none,
		"br;q=1.0, *;q=0":                    none,
		"*;q=0, identity":                    plain,
		"*;q=0, gzip":                        gz,
		"x-gzip":                             gz,
		"x-gzip;q=0.4, identity;q=0.5":       plain,
		"gzip;level=1;q=0.2, identity;q=0.3": plain,
		"gzip;Q=0":                           plain,
		"":                                   plain,
		"br":                                 plain,
		"gzip;q=nan, identity;q=0":           gz,
		"gzip;q=NaN":                         gz,
	} {
		if got := get(accept); got != want {
			t.Errorf("Accept-Encoding %q: %s, want %s", accept, got, want)
		}
	}

	// Random headers against the rules written out in full.
	rng := rand.New(rand.NewPCG(9, 9))
	codings := []string{"gzip", "GZIP", "x-gzip", "identity", "*", "br", "deflate"}
	qs := []string{"", ";q=0", ";q=0.0", ";q=0.5", ";q=1", ";q=0.25", ";q=0.001", ";Q=0.5", "; q=0.75"}
	for range 300 {
		var items []string
		gzipQ, idQ, starQ := -1.0, -1.0, -1.0
		for range 1 + rng.IntN(4) {
			c, qv := codings[rng.IntN(len(codings))], qs[rng.IntN(len(qs))]
			items = append(items, c+qv)
			q := 1.0
			if qv != "" {
				q, _ = strconv.ParseFloat(qv[strings.IndexByte(qv, '=')+1:], 64)
			}
			switch strings.ToLower(c) {
			case "gzip", "x-gzip":
				gzipQ = q
			case "identity":
				idQ = q
			case "*":
				starQ = q
			}
		}
		if gzipQ < 0 {
			gzipQ = max(starQ, 0)
		}
		if idQ < 0 && starQ >= 0 {
			idQ = starQ
		}
		want := none // idQ < 0: identity not named, the fallback
		switch {
		case gzipQ > 0 && gzipQ >= idQ:
			want = gz
		case idQ != 0:
			want = plain
		}
		accept := strings.Join(items, ", ")
		if got := get(accept); got != want {
			t.Fatalf("Accept-Encoding %q: %s, want %s", accept, got, want)
		}
	}
}
