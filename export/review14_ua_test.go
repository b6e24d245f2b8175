package export

import (
	"strings"
	"testing"
)

// A configured User-Agent is sent trimmed of spaces over gRPC as net/http
// sends it over HTTP: both protocols send the same product.
func TestGRPCUserAgentTrimmed(t *testing.T) {
	for _, protocol := range []string{ProtocolGRPC, ProtocolHTTPProtobuf} {
		c := newReceiver(t, protocol, nil)
		c.Start()
		cfg := testConfig(protocol, c.Endpoint())
		cfg.Headers = map[string]string{"User-Agent": "  edge-agent/2.1  "}
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		produce(t, e, Traces, "uatrim", 1, 1)
		flushOK(t, e)
		ua := c.Header().Get("User-Agent")
		shutdown(t, e)
		c.Stop()
		if !strings.HasPrefix(ua, "edge-agent/2.1") || strings.Contains(ua, "  ") || strings.Contains(ua, "\t") {
			t.Errorf("%s: the receiver saw User-Agent %q, want edge-agent/2.1 first, trimmed", protocol, ua)
		}
	}
}
