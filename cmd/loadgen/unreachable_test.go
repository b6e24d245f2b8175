package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

// TestUnreachableEndpoint runs the loadgen against a closed loopback
// port: a few seconds in, long before its -duration, it stops with an
// error naming the endpoint and the export attempts that failed, and a
// nonzero status. (Whether a progress line shows a failed attempt before
// that depends on how soon the exporter's first attempt ends: on a loaded
// machine none had by the third second.) It waited for the duration and then for
// the exporter's retries, up to two minutes, printing nothing of the kind,
// and exited 0.
func TestUnreachableEndpoint(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	var out, errb bytes.Buffer
	code := run([]string{"-workload=synthetic", "-duration=20s", "-rate=1000", "-concurrency=8", "-endpoint=" + addr}, &out, &errb)
	if code == 0 {
		t.Fatalf("exit status 0 against a closed port; stderr:\n%s", errb.String())
	}
	msg := errb.String()
	for _, want := range []string{"cannot reach -endpoint " + addr, "no span exported", "export attempts failed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stderr lacks %q:\n%s", want, msg)
		}
	}
	if out.Len() != 0 {
		t.Errorf("a report was printed:\n%s", out.String())
	}
}
