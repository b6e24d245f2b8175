package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

// TestUnreachableShortDuration runs the loadgen against a closed loopback
// port for less time than the unreachable check waits (3 s): it must still
// stop with the error naming the endpoint. Before, the check never ran, so
// the loadgen printed nothing after its one progress line and waited up to
// two minutes for the exporter's retries of every batch.
func TestUnreachableShortDuration(t *testing.T) {
	addr := closedPort(t)
	var out, errb bytes.Buffer
	code := run([]string{"-workload=synthetic", "-duration=1s", "-rate=1000", "-concurrency=8", "-endpoint=" + addr}, &out, &errb)
	if code == 0 {
		t.Fatalf("exit status 0 against a closed port; stderr:\n%s", errb.String())
	}
	if msg := errb.String(); !strings.Contains(msg, "cannot reach -endpoint "+addr) {
		t.Errorf("stderr lacks the unreachable endpoint:\n%s", msg)
	}
}

// TestUnreachableEndpointUserinfo gives the endpoint as user:password@host:port,
// without a scheme, as the exporter takes it (it sends the user information
// as basic authentication): the password must appear nowhere in the output.
// Before, the reachability check dialled the whole string, and the
// resolver's error ("lookup u:hunter2secret@127.0.0.1:1: no such host")
// printed it.
func TestUnreachableEndpointUserinfo(t *testing.T) {
	const secret = "hunter2secret"
	addr := closedPort(t)
	var out, errb bytes.Buffer
	code := run([]string{"-workload=synthetic", "-duration=1s", "-rate=1000", "-concurrency=8", "-endpoint=u:" + secret + "@" + addr}, &out, &errb)
	if code == 0 {
		t.Fatalf("exit status 0 against a closed port; stderr:\n%s", errb.String())
	}
	if strings.Contains(errb.String()+out.String(), secret) {
		t.Errorf("the endpoint's password was printed:\n%s", errb.String())
	}
	if !strings.Contains(errb.String(), "connection refused") {
		t.Errorf("the check did not dial the endpoint's host and port:\n%s", errb.String())
	}
}

// closedPort returns a loopback host:port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
