package export

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// Endpoints of the shapes users write reach a loopback receiver over both
// protocols: an IPv6 literal with a zone (scheme-less and as a URL), and
// an upper-case name.
func TestEndpointHostShapesDeliver(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	l.Close()
	for _, protocol := range []string{ProtocolGRPC, ProtocolHTTPProtobuf} {
		v6 := newReceiver(t, protocol, nil)
		v6.Addr = "[::1]:0"
		v6.Start()
		v4 := newReceiver(t, protocol, nil)
		v4.Start()
		port := func(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }
		p6, p4 := port(v6.Addr), port(v4.Addr)
		for i, c := range []struct {
			ep string
			r  func() int64
		}{
			{"[::1%25lo]:" + p6, func() int64 { return received(v6)[Traces] }},
			{"http://[::1%25lo]:" + p6, func() int64 { return received(v6)[Traces] }},
			{"[::1]:" + p6, func() int64 { return received(v6)[Traces] }},
			{"LOCALHOST:" + p4, func() int64 { return received(v4)[Traces] }},
		} {
			cfg := testConfig(protocol, c.ep)
			cfg.Insecure = true
			before := c.r()
			e, err := New(cfg)
			if err != nil {
				t.Errorf("%s %q: %v", protocol, c.ep, err)
				continue
			}
			produce(t, e, Traces, fmt.Sprint("host", i), 1, 1)
			flush(t, e)
			shutdown(t, e)
			if got := c.r() - before; got != 1 {
				t.Errorf("%s %q: the receiver got %d spans, want 1 (dropped %d)", protocol, c.ep, got, e.Stats().Signals[Traces].Dropped)
			}
		}
		v6.Stop()
		v4.Stop()
	}
}
