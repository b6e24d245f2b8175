package export

import (
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

// TestUserAgent: a receiver sees the exporter, its language and its
// version in the User-Agent over both protocols, as the OTLP exporter
// specification asks ("flowtel-otlp-exporter" said neither).
func TestUserAgent(t *testing.T) {
	ua := regexp.MustCompile(`^flowtel-otlp-exporter-go/[^\s()/]+( grpc-go/\S+)?$`)
	forEachProtocol(t, func(t *testing.T, protocol string) {
		c := newReceiver(t, protocol, nil)
		c.Start()
		defer c.Stop()
		e, err := New(testConfig(protocol, c.Endpoint()))
		if err != nil {
			t.Fatal(err)
		}
		produce(t, e, Traces, "ua", 1, 1)
		flush(t, e)
		shutdown(t, e)
		if got := c.Header().Get("User-Agent"); !ua.MatchString(got) {
			t.Errorf("the receiver saw User-Agent %q, want %s", got, ua)
		}
	})
}

func TestModuleVersion(t *testing.T) {
	dep := func(v string, repl *debug.Module) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Path: "example.com/app", Version: "v9.9.9"},
			Deps: []*debug.Module{{Path: "golang.org/x/net", Version: "v0.1.0"}, {Path: modulePath, Version: v, Replace: repl}}}
	}
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{&debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "(devel)"}}, true, "devel"},
		{&debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "v0.4.0-20261206-abcdef+dirty"}}, true, "v0.4.0-20261206-abcdef+dirty"},
		{dep("v1.2.3", nil), true, "v1.2.3"},
		{dep("v1.2.3", &debug.Module{Path: "../flowtel"}), true, "v1.2.3"},
		{dep("v1.2.3", &debug.Module{Path: "example.com/fork", Version: "v1.2.4"}), true, "v1.2.4"},
		{&debug.BuildInfo{Main: debug.Module{Path: "example.com/app"}}, true, "unknown"},
		{nil, false, "unknown"},
	} {
		if got := moduleVersion(tc.bi, tc.ok); got != tc.want {
			t.Errorf("moduleVersion(%+v) = %q, want %q", tc.bi, got, tc.want)
		}
	}
}

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
