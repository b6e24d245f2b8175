package otlp

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestEnvDocumented checks that every environment variable the
// constructors read (a literal name in export/env.go or otlp/env.go) is
// in the variables table of docs/porting.md, so that the table and the
// code cannot drift apart.
func TestEnvDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/porting.md")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`"((?:OTEL|OTLP|SERVICE|FLOWTEL)_[A-Z_]*[A-Z]|HOSTNAME)"`)
	for _, file := range []string{"../export/env.go", "env.go"} {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range name.FindAllStringSubmatch(string(src), -1) {
			if !strings.Contains(string(doc), "`"+m[1]+"`") {
				t.Errorf("%s reads %s, which docs/porting.md does not list", file, m[1])
			}
		}
	}
}
