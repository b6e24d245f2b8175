package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestHostileFlags gives flags whose values would panic, exhaust memory or
// start millions of goroutines: each is refused with a message naming the
// flag (exit 2) before any load starts. Before, -mix with weights summing
// past the int range panicked in rand.IntN, -payload 100000000000 died
// out of memory building the payload, and -tokens -5 and -max-rss-mib -1
// were taken as given. A bad -sample-* value was refused only by
// engine.New once the mode had started, with exit 1.
func TestHostileFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-mix=llm=9223372036854775807,tool=1"},
		{"-mix=llm=2000000"},
		{"-payload=100000000000"},
		{"-tokens=-5"},
		{"-max-rss-mib=-1"},
		{"-workers=100000000", "-concurrency=8388608"},
		{"-rate=NaN"},
		{"-latency-scale=+Inf"},
		{"-error-rate=NaN"},
		{"-fail-rate=-0.1"},
		{"-ring=-8"},
		{"-block-timeout=0"},
		{"-block-timeout=999us", "-block"},
		{"-block-timeout=2m", "-block"},
		{"-duration=1ns", "-soak"},
		{"-restart-every=1ns", "-soak", "-duration=4s"},
		{"-sample-ratio=2"},
		{"-sample-ratio=NaN"},
		{"-sample-slower=-1s"},
		{"-sample-slowest=1"},
		{"-sample-logs-all", "-logs=false"},
		{"-endpoint=%00"},
		{"-endpoint=a\tb", "-mode=otelsdk"},
		{"-endpoint=http://"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errb.String())
			continue
		}
		flag := strings.TrimPrefix(strings.SplitN(args[0], "=", 2)[0], "-")
		if !strings.Contains(errb.String(), flag) {
			t.Errorf("%v: the message does not name -%s: %q", args, flag, errb.String())
		}
	}
}

// FuzzLoadgenFlags parses arbitrary flag values and, when they are
// accepted, builds the workload's plans: neither may panic, and values the
// plans cannot use must be refused by the parser.
func FuzzLoadgenFlags(f *testing.F) {
	f.Add("8", "3", "chain", "llm=30,tool=15", "256", "1200", "0.01", "5000")
	f.Add("1", "1", "fanout", "llm=1", "0", "0", "1", "0")
	f.Add("65536", "65536", "iteration", "llm=9223372036854775807,tool=1", "-1", "-5", "NaN", "+Inf")
	f.Add("3", "100", "mixed", " , llm=0x10 ,tool=1", "1e3", "1", "-0", "1e308")
	f.Fuzz(func(t *testing.T, nodes, fanout, shape, mix, payload, tokens, errRate, rate string) {
		args := []string{"-nodes=" + nodes, "-fanout=" + fanout, "-shape=" + shape, "-mix=" + mix,
			"-payload=" + payload, "-tokens=" + tokens, "-error-rate=" + errRate, "-rate=" + rate, "-workload=synthetic"}
		c, err := parseFlags(args, io.Discard)
		if err != nil {
			return
		}
		if c.nodes*min(c.fanout, 64) > 1<<12 {
			return // valid but slow to plan: not what this fuzzes
		}
		if _, _, err := buildWorkload(c); err != nil {
			t.Fatalf("%q: accepted by the parser, refused by the planner: %v", args, err)
		}
	})
}

// TestFlagErrorsOneLine: every flag error is one line on stderr naming
// the flag, exit 2, and a credential in -endpoint is not printed. A value
// package flag cannot parse was printed with the whole usage (93 lines)
// before the loadgen's own line; an -endpoint with no address the
// loadgen could dial was taken, and the SDK modes then ran -duration and
// two minutes of shutdown retries.
func TestFlagErrorsOneLine(t *testing.T) {
	for _, args := range [][]string{
		{"-nodes=NaN"},
		{"-rate="},
		{"-ring=99999999999999999999"},
		{"-block=2"},
		{"-no-such-flag"},
		{"-endpoint=u:secret@%zz", "-mode=otelsdk"},
	} {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		lines := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
		flag := strings.TrimPrefix(strings.SplitN(args[0], "=", 2)[0], "-")
		if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], "-"+flag) || out.Len() != 0 {
			t.Errorf("%v: exit %d, %d lines on stderr (%.200q), %d bytes on stdout; want 2, one line naming -%s, none", args, code, len(lines), errb.String(), out.Len(), flag)
		}
		if strings.Contains(errb.String(), "secret") {
			t.Errorf("%v: the credential is printed: %q", args, errb.String())
		}
	}
}

// TestQueueTooSmallNamesFlag: a -queue-bytes too small for a request
// carrying the resource is refused when the flowtel mode builds its
// sink, with exit 1 and one line naming -queue-bytes (the sink's rule);
// the message said "the resource ... encodes to 533 bytes, more than 8"
// and named no flag. A small queue that takes a request runs, its losses
// counted (exporter.too_large).
func TestQueueTooSmallNamesFlag(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-queue-bytes=16", "-workload=synthetic", "-duration=200ms", "-progress=false"}, &out, &errb)
	if lines := strings.Count(errb.String(), "\n"); code != 1 || lines != 1 || !strings.Contains(errb.String(), "-queue-bytes 16") {
		t.Errorf("-queue-bytes 16: exit %d, stderr %q; want 1 and one line naming -queue-bytes", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"-queue-bytes=4096", "-workload=synthetic", "-duration=200ms", "-rate=1000", "-progress=false"}, &out, &errb); code != 0 {
		t.Errorf("-queue-bytes 4096: exit %d, stderr %q", code, errb.String())
	}
}
