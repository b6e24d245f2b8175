package engine_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestPortingSnippetIsExample checks that the engine loop docs/porting.md
// shows is Example_porting's code, line for line (tabs aside), as the
// page says: a change to one without the other fails here.
func TestPortingSnippetIsExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/porting.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("porting_example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)compiled and run by `go test`\\):\n\n```go\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/porting.md: the engine loop's snippet is not where this test looks for it")
	}
	code := strings.ReplaceAll(string(src), "\t", "")
	for _, line := range strings.Split(string(m[1]), "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.Contains(code, strings.ReplaceAll(l, "\t", "")) {
			t.Errorf("docs/porting.md's loop has %q, which Example_porting does not", l)
		}
	}
}
