package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

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

// TestSIDTime: a generated SID carries the run's start millisecond (the
// engine's clock reading, sid.Generator.AppendNextAt), or, when
// sid.Config.Now is set, that clock's.
func TestSIDTime(t *testing.T) {
	cfg := sid.Config{Sub: "spf", Location: "hf", IP: "10.0.1.2", Port: "8080", PID: 7}
	e, err := New(WithSID(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	for range 3 {
		run := e.StartRun(RunInfo{})
		f, err := sid.Parse(run.SID())
		if err != nil {
			t.Fatal(err)
		}
		if want := uint64(run.r.StartUnixNano/1e6) & (1<<44 - 1); f.Millis != want {
			t.Fatalf("SID %q: millis %d, want the run's start %d", run.SID(), f.Millis, want)
		}
		run.End(0, "")
	}
	cfg.Now = func() time.Time { return time.UnixMilli(1640995200000) }
	e2, err := New(WithSID(cfg))
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Shutdown(context.Background())
	run := e2.StartRun(RunInfo{})
	if f, err := sid.Parse(run.SID()); err != nil || f.Millis != 1640995200000 {
		t.Fatalf("SID %q with Config.Now: %+v, %v", run.SID(), f, err)
	}
	run.End(0, "")
}
