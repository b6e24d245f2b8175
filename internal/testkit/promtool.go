package testkit

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// microsecondsAdvice is promtool's advice to use base units, the one
// finding tolerated: flowtel keeps the original system's "_microseconds"
// names so that its dashboards keep working (docs/original.md).
var microsecondsAdvice = regexp.MustCompile(`^\S+_microseconds use base unit "seconds" instead of "microseconds"$`)

// Promtool runs `promtool check metrics` on body and fails t on every
// finding but microsecondsAdvice. Without promtool installed it logs so
// and checks nothing.
func Promtool(t testing.TB, body []byte) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool is not installed (apt-get install prometheus): skipping its check")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !microsecondsAdvice.MatchString(line) {
			t.Errorf("promtool: %s", line)
		}
	}
	if err != nil && strings.TrimSpace(string(out)) == "" {
		t.Errorf("promtool failed with no output: %v", err)
	}
}
