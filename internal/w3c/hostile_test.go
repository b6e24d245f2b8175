package w3c

import (
	"errors"
	"strings"
	"testing"

	"github.com/flowtel/flowtel/internal/testkit"
)

// TestHostileInput feeds headers far past every limit: each is refused or
// cut at its limit, without allocating.
func TestHostileInput(t *testing.T) {
	huge := strings.Repeat("a", 1<<20)
	longFuture := "01" + validTP[2:] + "-" + huge
	long00 := "00" + longFuture[2:]
	manyTS := strings.Repeat("a=1,", 8000)               // 32000 bytes, under the byte limit
	manyBag := strings.Repeat("k=v,", MaxBaggageBytes/4) // 2048 members in 8192 bytes
	emptyBag := strings.Repeat(",", MaxBaggageBytes)
	tests := []struct {
		name string
		f    func() error
		want error
	}{
		{"traceparent 1 MiB future version", func() error { _, err := ParseTraceParent(longFuture); return err }, nil},
		{"traceparent 1 MiB version 00", func() error { _, err := ParseTraceParent(long00); return err }, errTPLength},
		{"tracestate 1 MiB", func() error { _, err := ParseTraceState(huge); return err }, errTSTooLong},
		{"tracestate 8000 members", func() error { _, err := ParseTraceState(manyTS); return err }, errTSDuplicate},
		{"baggage 1 MiB", func() error { _, err := ParseBaggage(huge); return err }, errBagTooLarge},
		{"baggage 2048 members", func() error { _, err := ParseBaggage(manyBag); return err }, errBagTooMany},
		{"baggage 8192 commas", func() error { _, err := ParseBaggage(emptyBag); return err }, errBagEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f(); !errors.Is(err, tt.want) && (err != nil || tt.want != nil) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			testkit.WantAllocs(t, 0, func() { sinkErr = tt.f() })
		})
	}
	// Thousands of members, the first 33 distinct, stop at the 33rd.
	var sb strings.Builder
	for i := range 3000 {
		sb.WriteString("k")
		sb.WriteString(strings.Repeat("x", i%40))
		sb.WriteString(string(rune('a' + i%26)))
		sb.WriteString("=1,")
	}
	if _, err := ParseTraceState(sb.String()[:MaxTraceStateBytes]); !errors.Is(err, errTSTooMany) {
		t.Fatalf("many distinct members: %v", err)
	}
}
