package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the example into its embedded receiver: every request
// succeeds, every span is received, and the bottleneck table has every
// node type of the graph.
func TestRun(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"-n", "12", "-c", "4", "-first-chunk", "5ms", "-per-chunk", "1ms", "-retrieve", "1ms", "-tool", "2ms"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	text := out.String()
	for _, want := range []string{
		"reconciled        ok",
		// 9 weather questions take the tool path (a root and 10 nodes:
		// classify, guide, profile, prompt, planner, tools, weather,
		// respond, format, writer), 3 the direct one (a root and 5).
		"received          117  (12 runs: root spans)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	for _, typ := range []string{" llm ", " flow ", " knowledge ", " tools ", " tool ", " code "} {
		if !strings.Contains(text, typ) {
			t.Errorf("bottleneck table lacks %q:\n%s", typ, text)
		}
	}
}
