package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHostileFlags gives flags whose values would panic, exhaust memory or
// start millions of goroutines: each is refused with a message naming the
// flag (exit 2) before any load starts. Before, -mix with weights summing
// past the int range panicked in rand.IntN, -payload 100000000000 died
// out of memory building the payload, and -tokens -5 and -max-rss-mib -1
// were taken as given.
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
