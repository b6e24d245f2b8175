package engine_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

// TestDocLinks checks the links of README.md and docs/*.md: every relative
// link names a file of the repository and, after #, one of its headings
// (GitHub's anchors), so that a renamed heading or file cannot leave a
// porter at a dead link.
func TestDocLinks(t *testing.T) {
	pages, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	link := regexp.MustCompile(`\]\(([^)\s]*)\)`)
	for _, page := range append(pages, "../README.md") {
		text, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			target, anchor, _ := strings.Cut(m[1], "#")
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file := page
			if target != "" {
				file = filepath.Join(filepath.Dir(page), target)
			}
			if rel, err := filepath.Rel("..", file); err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s links to %s, outside the repository", page, m[1])
				continue
			}
			st, err := os.Stat(file)
			if err != nil {
				t.Errorf("%s links to %s: %v", page, m[1], err)
				continue
			}
			if anchor != "" && !st.IsDir() && !slices.Contains(anchors(t, file), anchor) {
				t.Errorf("%s links to %s: %s has no heading #%s", page, m[1], file, anchor)
			}
		}
	}
}

// anchors returns the GitHub anchors of a Markdown file's headings.
func anchors(t *testing.T, file string) []string {
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile(`[^\p{L}\p{N}_\- ]`)
	var out []string
	for _, line := range strings.Split(string(text), "\n") {
		if h, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " "); ok && strings.HasPrefix(line, "#") {
			out = append(out, strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(strings.TrimSpace(h)), ""), " ", "-"))
		}
	}
	return out
}

// TestRepositoryStandsAlone checks that no file of the repository points
// at the documents of the system flowtel was rebuilt from, which live
// outside it: what a maintainer needs of them is in docs/original.md.
func TestRepositoryStandsAlone(t *testing.T) {
	outside := []string{"SPEC" + ".md", "DESIGN" + ".md", "../" + "shared", "/work/" + "shared"}
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > 4<<20 {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range outside {
			if strings.Contains(string(b), s) {
				t.Errorf("%s names %s, outside the repository (put what is needed in docs/)", path, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
