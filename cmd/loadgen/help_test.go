package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelpExitsZero: -h and -help print the flags and exit 0, as a Go
// command built on package flag does; a flag it does not know exits 2
// (package doc: "2 on bad flags").
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"-help"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 || !strings.Contains(errb.String(), "-workload") {
			t.Errorf("loadgen %s: exit %d, %d bytes on stderr; want 0 and the flags", args[0], code, errb.Len())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-no-such-flag"}, &out, &errb); code != 2 {
		t.Errorf("loadgen -no-such-flag: exit %d, want 2", code)
	}
}
