package engine

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/encode"
)

// TestTailRulesAsDocumented: TailRule's doc said an empty field matches
// any and the first rule that matches applies. A rule naming neither app
// nor flow then matched only the runs with no app and no flow (rule
// looks up app and flow, flow, app: never the rule of neither), and a
// second rule for the same app and flow was never used; both were taken.
// The lookup is by specificity (an app's flow, then the flow, then the
// app, TestTailPolicyKeptSet): the doc now says so, and New refuses the
// two rules that would never apply as written, naming them.
func TestTailRulesAsDocumented(t *testing.T) {
	keepAll, dropAll := TailPolicy{SlowerThan: time.Nanosecond}, TailPolicy{SlowerThan: time.Hour}
	for _, tc := range []struct {
		rules []TailRule
		want  string
	}{
		{[]TailRule{{Policy: keepAll}}, "Rules[0]"},
		{[]TailRule{{AppID: "a", Policy: keepAll}, {FlowID: "f", Policy: keepAll}, {AppID: "a", Policy: dropAll}}, "Rules[2]"},
	} {
		e, err := New(WithTailSampling(TailPolicy{SlowerThan: time.Hour, Rules: tc.rules}))
		if e != nil {
			e.Shutdown(t.Context())
		}
		if !errors.Is(err, ErrInvalidSampler) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("rules %+v: New = %v, want ErrInvalidSampler naming %s", tc.rules, err, tc.want)
		}
	}
	// Specificity: an app's flow over the flow over the app, whatever the
	// order of the rules.
	ts, err := newTailSampler(&TailPolicy{SlowerThan: time.Hour, Rules: []TailRule{
		{AppID: "a", Policy: dropAll}, {FlowID: "f", Policy: keepAll}, {AppID: "a", FlowID: "g", Policy: keepAll}, {AppID: "b", Policy: keepAll},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		app, flow string
		keep      bool
	}{{"a", "f", true}, {"a", "g", true}, {"a", "h", false}, {"b", "h", true}, {"c", "h", false}, {"c", "f", true}} {
		run := &encode.Run{AppID: c.app, FlowID: c.flow, StartUnixNano: 1e9, EndUnixNano: 1e9 + int64(time.Millisecond)}
		if got := ts.keep(run, 0); got != c.keep {
			t.Errorf("run %s/%s: kept %v, want %v", c.app, c.flow, got, c.keep)
		}
	}
}
