package export

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/internal/otlptest"
)

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
