package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutputPathsCheckedFirst: an output file (-plot, -memprofile,
// -cpuprofile) in a directory that does not exist, or whose directory is
// a file, is refused with a message naming the flag (exit 2) before any
// load starts, and so are exporter settings the exporter refuses
// (-queue-bytes, -export-concurrency). -plot was written after every
// mode had run and the failure returned before the report was printed
// (a 10-minute measurement lost), and -memprofile's failure went to the
// progress writer, nowhere with -progress=false (exit 0, no profile);
// the exporter's settings were refused when the mode started (exit 1).
func TestOutputPathsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	var out, errb bytes.Buffer
	if code := run([]string{"-duration=1ms", "-rate=10", "-progress=false", "-plot=" + file}, &out, &errb); code != 0 {
		t.Fatalf("a plot in an existing directory: exit %d: %s", code, errb.String())
	}
	for _, args := range [][]string{
		{"-plot=" + filepath.Join(dir, "missing", "p.svg")},
		{"-memprofile=" + filepath.Join(dir, "missing", "m")},
		{"-cpuprofile=" + filepath.Join(file, "c")},
		{"-plot=" + dir},
		{"-queue-bytes=-1"},
		{"-export-concurrency=100000"},
	} {
		out.Reset()
		errb.Reset()
		if code := run(append(args, "-duration=1h", "-progress=false"), &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errb.String())
			continue
		}
		flag := strings.TrimPrefix(strings.SplitN(args[0], "=", 2)[0], "-")
		if !strings.Contains(errb.String(), flag) {
			t.Errorf("%v: the message does not name -%s: %q", args, flag, errb.String())
		}
	}
}
