package export_test

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/export"
)

// largeFieldDefault tells, for a FLOWTEL_LARGE_FIELDS_* variable, whether
// a LargeFieldConfig holds export's default of its field.
var largeFieldDefault = map[string]func(export.LargeFieldConfig) bool{
	"FLOWTEL_LARGE_FIELDS_MAX_BYTES":   func(c export.LargeFieldConfig) bool { return c.MaxBytes == export.DefaultLargeFieldMaxBytes },
	"FLOWTEL_LARGE_FIELDS_MAX_FILES":   func(c export.LargeFieldConfig) bool { return c.MaxFiles == export.DefaultLargeFieldMaxFiles },
	"FLOWTEL_LARGE_FIELDS_TIMEOUT":     func(c export.LargeFieldConfig) bool { return c.Timeout == export.DefaultLargeFieldTimeout },
	"FLOWTEL_LARGE_FIELDS_CONCURRENCY": func(c export.LargeFieldConfig) bool { return c.Concurrency == export.DefaultLargeFieldConcurrency },
	"FLOWTEL_LARGE_FIELDS_QUEUE_BYTES": func(c export.LargeFieldConfig) bool { return c.QueueBytes == export.DefaultLargeFieldQueueBytes },
}

// TestEnvDefaultsDocumented checks the defaults docs/porting.md gives for
// the variables export.FromEnv reads: setting a variable to its documented
// default must give the Config that leaving it unset gives. Defaults that
// are a word rather than a value (the signal-less variable, none) are not
// checked here.
func TestEnvDefaultsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/porting.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("env.go")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| (`[A-Z_]+`(?:, else `[A-Z_]+`)?) \\| ([^|]*) \\|")
	name := regexp.MustCompile("`([A-Z_]+)`")
	value := regexp.MustCompile(`^` + "`?" + `([0-9]+|true|false)` + "`?" + `(?: ms)?(?: \([0-9]+ [KMG]iB\))?$`)
	base, err := export.FromLookup(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		v := value.FindStringSubmatch(strings.TrimSpace(m[2]))
		if v == nil {
			continue
		}
		for _, n := range name.FindAllStringSubmatch(m[1], -1) {
			if !strings.Contains(string(src), `"`+n[1]+`"`) {
				continue // read by otlp.NewFromEnv, not export.FromEnv
			}
			got, err := export.FromLookup(func(k string) (string, bool) {
				if k == n[1] {
					return v[1], true
				}
				return "", false
			})
			if err != nil {
				t.Errorf("%s=%s (its documented default): %v", n[1], v[1], err)
				continue
			}
			if isDefault, ok := largeFieldDefault[n[1]]; ok {
				// LargeFields keep 0 for "the default", resolved by
				// otlp.New: the value set must be that default.
				if !isDefault(got.LargeFields) {
					t.Errorf("%s=%s (its documented default) is not export's default: %+v", n[1], v[1], got.LargeFields)
				}
				got.LargeFields = base.LargeFields
			}
			if !reflect.DeepEqual(got, base) {
				t.Errorf("%s=%s (its documented default) gives a Config other than leaving it unset:\n got %+v\nwant %+v", n[1], v[1], got, base)
			}
			checked++
		}
	}
	if checked < 10 {
		t.Errorf("checked %d documented defaults; the table's format changed?", checked)
	}
	t.Logf("%d documented defaults checked", checked)
}
