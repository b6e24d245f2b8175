package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestTailRuleIDPastValueBytes: the runs' app and flow ids are cut to
// Limits.ValueBytes when they start, so a rule naming a longer one never
// matched a run: its runs went to the policy's own fields, sampled out
// here, with nothing said. New refuses such a rule, naming it; a rule of
// exactly ValueBytes applies to its runs.
func TestTailRuleIDPastValueBytes(t *testing.T) {
	const vb = 64
	keepAll, dropAll := TailPolicy{SlowerThan: time.Nanosecond}, TailPolicy{SlowerThan: time.Hour}
	for _, tc := range []struct {
		rule  TailRule
		field string
	}{
		{TailRule{FlowID: strings.Repeat("f", vb+1), Policy: keepAll}, "Rules[0].FlowID"},
		{TailRule{AppID: strings.Repeat("é", vb/2+1), FlowID: "f", Policy: keepAll}, "Rules[0].AppID"},
	} {
		e, err := New(WithLimits(Limits{ValueBytes: vb}), WithSink(&MemorySink{}),
			WithTailSampling(TailPolicy{SlowerThan: dropAll.SlowerThan, Rules: []TailRule{tc.rule}}))
		if e != nil {
			_ = e.Shutdown(context.Background())
		}
		if !errors.Is(err, ErrInvalidSampler) || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), "ValueBytes") {
			t.Errorf("a rule of %d and %d bytes: New = %v, want ErrInvalidSampler naming %s and Limits.ValueBytes",
				len(tc.rule.AppID), len(tc.rule.FlowID), err, tc.field)
		}
	}
	// At the limit the rule is taken and applies.
	sink := &MemorySink{}
	flow := strings.Repeat("é", vb/2)
	e, err := New(WithLimits(Limits{ValueBytes: vb}), WithSink(sink), WithBatch(16, 5*time.Millisecond),
		WithTailSampling(TailPolicy{SlowerThan: dropAll.SlowerThan, Rules: []TailRule{{FlowID: flow, Policy: keepAll}}}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	r := e.StartRun(RunInfo{FlowID: flow})
	time.Sleep(time.Millisecond) // slower than the rule's 1 ns: it is the rule that keeps the run
	r.End(0, "")
	if err := e.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if runs := sink.Runs(); len(runs) != 1 || runs[0].FlowID != flow {
		t.Errorf("a rule of exactly Limits.ValueBytes: %d runs kept, want its run", len(runs))
	}
}
