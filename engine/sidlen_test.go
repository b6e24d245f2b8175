package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/internal/testkit"
	"github.com/flowtel/flowtel/sid"
)

// TestSIDLength: a generated SID is written into its run record's buffer
// of len(runRecord.sidBuf) bytes. A configuration whose SID fits (Sub and
// Location of 37 bytes together) keeps StartRun+End at its exact
// allocation budget; one byte more is refused by New with the lengths,
// where it was accepted and each StartRun allocated the SID once more.
func TestSIDLength(t *testing.T) {
	cfg := func(sub, loc int) sid.Config {
		return sid.Config{Sub: strings.Repeat("s", sub), Location: strings.Repeat("l", loc), IP: "10.0.1.2", Port: "8080", PID: 7}
	}
	e, err := New(WithSID(cfg(30, 7)))
	if err != nil {
		t.Fatalf("Sub and Location of 37 bytes: %v", err)
	}
	defer e.Shutdown(context.Background())
	if s := e.StartRun(RunInfo{}); len(s.SID()) != len(runRecord{}.sidBuf) {
		t.Fatalf("SID %q: %d bytes, want %d", s.SID(), len(s.SID()), len(runRecord{}.sidBuf))
	} else {
		s.End(0, "")
	}
	warm(t, e, 2048, 0)
	testkit.WantAllocs(t, 0, func() { e.StartRun(RunInfo{}).End(0, "") })

	for _, c := range []struct{ sub, loc int }{{31, 7}, {7, 31}, {200, 1}} {
		_, err := New(WithSID(cfg(c.sub, c.loc)))
		if err == nil {
			t.Errorf("Sub %d and Location %d bytes: accepted", c.sub, c.loc)
			continue
		}
		for _, w := range []string{fmt.Sprintf("Sub (%d bytes)", c.sub), fmt.Sprintf("Location (%d bytes)", c.loc), fmt.Sprintf("%d bytes together", c.sub+c.loc)} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Sub %d and Location %d bytes: error %q does not say %q", c.sub, c.loc, err, w)
			}
		}
	}
}
