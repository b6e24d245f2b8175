package propagation

import (
	"strings"
	"testing"
)

// TestParseFormatsIgnoredCountedOnce: the report of ignored names counts
// each name once, as the list's reading does (any case, a name given twice
// counted once), and tells apart names that share their first 32 bytes
// (the part quoted). It said "and 5 more" for one name given five times
// past the three quoted, and nothing more for a fourth name quoted as the
// first's cut.
func TestParseFormatsIgnoredCountedOnce(t *testing.T) {
	long := strings.Repeat("p", 40)
	for _, c := range []struct{ in, want, not string }{
		{"a,b,c,d,d,D,d,d", "and 1 more", "and 5 more"},
		{"b3,B3,jaeger,xray,ottrace", `"b3", "jaeger", "xray" and 1 more`, "B3"},
		{long + "1," + long + "2", `"` + long[:32] + `"..., "` + long[:32] + `"...;`, ""},
		{"a,b,c", `"a", "b", "c"; propagating`, "more"},
	} {
		f, err := ParseFormats(c.in)
		if f != FormatsAll || err == nil {
			t.Errorf("ParseFormats(%q) = %v, %v, want both and a report", c.in, f, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.want) || (c.not != "" && strings.Contains(msg, c.not)) {
			t.Errorf("ParseFormats(%q): %s\nwant %q in it, not %q", c.in, msg, c.want, c.not)
		}
	}
}
