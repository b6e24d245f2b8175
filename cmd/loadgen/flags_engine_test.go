package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestEngineFlagsRefusedFirst gives flags the flowtel engine refuses
// (engine.New's rules, not the parser's own): each is refused with exit
// 2, naming the flag, before any load starts. Before, -batch 2000000,
// -ring 3 and a ring past the 1 GiB the engine allocates up front were
// taken by the parser and refused by engine.New once the flowtel mode
// had started, with exit 1 (and with -mode both after the receiver and
// the plans were built).
func TestEngineFlagsRefusedFirst(t *testing.T) {
	for _, args := range [][]string{
		{"-batch=2000000"},
		{"-ring=3"},
		{"-ring=1073741824"},
		{"-ring=67108864"}, // 2 shards or more: 2 GiB of slots up front
		// Four times the queue went into the engine's memory limit: 2^61
		// wrapped it negative (refused, blaming -batch and -ring), 2^62
		// wrapped it to what the runs alone need.
		{"-queue-bytes=2305843009213693952"},
		{"-queue-bytes=4611686018427387904"},
		{"-queue-bytes=9223372036854775807"},
	} {
		var out, errb bytes.Buffer
		if code := run(append(args, "-workload=synthetic", "-duration=1s", "-progress=false"), &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errb.String())
			continue
		}
		flag := strings.TrimPrefix(strings.SplitN(args[0], "=", 2)[0], "-")
		if !strings.Contains(errb.String(), "-"+flag) {
			t.Errorf("%v: the message does not name -%s: %q", args, flag, errb.String())
		}
	}
	// -mode otelsdk has no flowtel engine: its flags are not its business.
	if _, err := parseFlags([]string{"-mode=otelsdk", "-batch=2000000"}, io.Discard); err != nil {
		t.Errorf("-mode otelsdk -batch 2000000: %v", err)
	}
}
