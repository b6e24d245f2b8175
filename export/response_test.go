package export

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestHTTPResponseContentType: an OTLP/HTTP response body is read in the
// encoding its Content-Type names, on a real loopback server. A receiver
// answering in OTLP's JSON encoding has its partial success counted (it
// was reported as undecodable, nothing rejected) and its error message
// read (the raw JSON was reported); a 200 with a web page is exported and
// said once not to be an OTLP response (each batch reported the page as
// an undecodable protobuf); a refusal is reported once, not per batch.
func TestHTTPResponseContentType(t *testing.T) {
	for _, tc := range []struct {
		name, ct, body string
		code           int
		rejected       uint64 // a batch
		dropped        bool
		report         string // the one report wanted
	}{
		{"json partial success", "application/json", `{"partialSuccess":{"rejectedSpans":"2","errorMessage":"span too long"}}`, 200, 2, false,
			`export traces: partial success: 2 rejected: "span too long" (reported once; Stats counts every item)`},
		{"json success", "application/json; charset=utf-8", `{}`, 200, 0, false, ""},
		{"json error", "application/json", `{"code":3,"message":"bad span"}`, 400, 0, true,
			`export traces: HTTP 400: "bad span"; dropped 5 traces items (reported once; Stats counts every item)`},
		{"html", "text/html; charset=utf-8", `<html><body>It works!</body></html>`, 200, 0, false,
			`export traces: accepted with a "text/html; charset=utf-8" response, not an OTLP one: is the endpoint an OTLP receiver? (reported once; Stats counts every item)`},
		{"text error", "text/plain", "no such route", 404, 0, true,
			`export traces: HTTP 404: "no such route"; dropped 5 traces items (reported once; Stats counts every item)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ct)
				w.WriteHeader(tc.code)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			cfg := oneBatchPerRequest(Config{Protocol: ProtocolHTTPProtobuf, Endpoint: srv.URL, Retry: RetryConfig{Disabled: true}})
			e, log := newLogged(t, cfg)
			const batches, items = 3, 5
			produced := produce(t, e, Traces, "ct", batches, items)
			st := flushChecked(t, e).Signals[Traces]
			switch {
			case tc.dropped && st.DroppedBy[DropNonRetryable] != produced:
				t.Errorf("%+v; want all %d dropped as non-retryable", st, produced)
			case !tc.dropped && (st.Rejected != batches*tc.rejected || st.Exported != produced-batches*tc.rejected):
				t.Errorf("%+v; want %d rejected, the rest exported", st, batches*tc.rejected)
			}
			var reports []string
			for _, err := range log.all() {
				reports = append(reports, err.Error())
			}
			want := []string{}
			if tc.report != "" {
				want = append(want, tc.report)
			}
			if strings.Join(reports, "\n") != strings.Join(want, "\n") {
				t.Errorf("reports\n%s\nwant\n%s", strings.Join(reports, "\n"), strings.Join(want, "\n"))
			}
			shutdown(t, e)
		})
	}
}

// TestPartialSuccessNoticesBounded: a receiver whose partial-success
// message is large and differs on every response (a request id in it)
// must not make the exporter keep those messages. reportOnce remembers
// maxNotices+1 notices; each was the receiver's raw message (up to
// MaxResponseBytes), so an exporter pinned ~65 MiB of messages for ever,
// secrets the receiver echoed included, where every other notice is the
// clipped, redacted message.
func TestPartialSuccessNoticesBounded(t *testing.T) {
	const secret = "s3cr3t-token-value"
	forEachProtocol(t, func(t *testing.T, protocol string) {
		pad := strings.Repeat("x", 256<<10)
		c := newReceiver(t, protocol, func(cl otlptest.Call) otlptest.Reply {
			return otlptest.Reply{Rejected: 1, Message: fmt.Sprintf("request %d: token %s rejected %s", cl.N, secret, pad)}
		})
		c.Start()
		defer c.Stop()
		cfg := oneBatchPerRequest(testConfig(protocol, c.Endpoint()))
		cfg.Headers = map[string]string{"x-api-key": secret}
		e, _ := newLogged(t, cfg)
		produce(t, e, Traces, "n", maxNotices+8, 2)
		flush(t, e)
		e.mu.Lock()
		total, n := 0, len(e.notices)
		for k := range e.notices {
			total += len(k)
			if strings.Contains(k, secret) {
				t.Errorf("a notice kept holds the header's secret: %.80q", k)
				break
			}
		}
		e.mu.Unlock()
		if limit := (maxNotices + 1) * (maxErrorMessageBytes + 64); total > limit {
			t.Errorf("%d notices hold %d bytes, want at most %d (each clipped)", n, total, limit)
		}
		shutdown(t, e)
	})
}
