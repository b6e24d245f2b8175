package w3c

import (
	"testing"

	"github.com/flowtel/flowtel/internal/race"
	"github.com/flowtel/flowtel/internal/testkit"
)

// iters scales the iteration count of a property test: a tenth of n under
// the race detector or -short, where each iteration costs far more.
func iters(n int) int {
	if race.Enabled || testing.Short() {
		return n / 10
	}
	return n
}

const (
	typicalTraceState = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,fw529a3039@dt=Zm9vYmFy"
	typicalBaggage    = "userId=alice,serverNode=DF%2028,isProduction=false;ttl=60"
	plainBaggage      = "userId=alice,tenant=acme,isProduction=false;ttl=60"
)

var (
	sinkTP  TraceParent
	sinkTS  TraceState
	sinkBag Baggage
	sinkStr string
	sinkErr error
	sinkN   int
)

func TestAllocs(t *testing.T) {
	tp, _ := ParseTraceParent(validTP)
	ts, _ := ParseTraceState(typicalTraceState)
	tsDirty, _ := ParseTraceState(" rojo=1 , congo=2")
	bag, _ := ParseBaggage(typicalBaggage)
	bagDirty, _ := ParseBaggage("a = 1 , b=2")
	buf := make([]byte, 0, 512)
	badTP := validTP[:54] + "X"
	tooLarge := string(make([]byte, MaxBaggageBytes+1))
	escaped, _ := bag.Get("serverNode")
	tests := []struct {
		name string
		n    float64
		f    func()
	}{
		{"ParseTraceParent", 0, func() { sinkTP, sinkErr = ParseTraceParent(validTP) }},
		{"ParseTraceParent/invalid", 0, func() { sinkTP, sinkErr = ParseTraceParent(badTP) }},
		{"AppendTraceParent", 0, func() { buf = AppendTraceParent(buf[:0], tp) }},
		{"TraceParent.String", 1, func() { sinkStr = tp.String() }},
		{"ParseTraceState", 0, func() { sinkTS, sinkErr = ParseTraceState(typicalTraceState) }},
		{"ParseTraceState/whitespace", 0, func() { sinkTS, sinkErr = ParseTraceState(" rojo=1 , congo=2") }},
		{"ParseTraceState/invalid", 0, func() { sinkTS, sinkErr = ParseTraceState("a=1,a=2") }},
		{"AppendTraceState", 0, func() { buf = AppendTraceState(buf[:0], ts) }},
		{"AppendTraceState/whitespace", 0, func() { buf = AppendTraceState(buf[:0], tsDirty) }},
		{"TraceState.String", 0, func() { sinkStr = ts.String() }},
		{"TraceState.String/whitespace", 1, func() { sinkStr = tsDirty.String() }},
		{"TraceState.Get", 0, func() { sinkStr, _ = ts.Get("fw529a3039@dt") }},
		{"TraceState.All", 0, func() {
			for k := range ts.All() {
				sinkN += len(k)
			}
		}},
		{"TraceState.Truncate/fits", 0, func() { sinkTS = ts.Truncate(512) }},
		{"TraceState.Truncate/cut", 1, func() { sinkTS = ts.Truncate(30) }},
		{"TraceParent.Child", 0, func() { sinkTP = tp.Child([8]byte{1}, true) }},
		{"TraceState.Insert", 1, func() { sinkTS, sinkErr = ts.Insert("congo", "x") }},
		{"TraceState.Delete/absent", 0, func() { sinkTS = ts.Delete("absent") }},
		{"ParseBaggage", 0, func() { sinkBag, sinkErr = ParseBaggage(plainBaggage) }},
		{"ParseBaggage/escaped", 0, func() { sinkBag, sinkErr = ParseBaggage(typicalBaggage) }},
		{"ParseBaggage/invalid member", 0, func() { sinkBag, sinkErr = ParseBaggage("a=1,b,c=2") }},
		{"ParseBaggage/too large", 0, func() { sinkBag, sinkErr = ParseBaggage(tooLarge) }},
		{"AppendBaggage", 0, func() { buf = AppendBaggage(buf[:0], bag) }},
		{"AppendBaggage/whitespace", 0, func() { buf = AppendBaggage(buf[:0], bagDirty) }},
		{"Baggage.String", 0, func() { sinkStr = bag.String() }},
		{"Baggage.All+Value/plain", 0, func() {
			for m := range bag.All() {
				if m.Key != "serverNode" {
					sinkStr = m.Value()
				}
				for p := range m.Properties() {
					sinkStr = p.Value()
				}
			}
		}},
		{"Baggage.Get", 0, func() {
			m, _ := bag.Get("isProduction")
			sinkStr = m.Key
		}},
		{"TraceState.Delete", 1, func() { sinkTS = ts.Delete("congo") }},
		{"Baggage.Insert", 1, func() { sinkBag, sinkErr = bag.Insert("userId", "bob") }},
		{"Baggage.Delete", 1, func() { sinkBag = bag.Delete("userId") }},
		{"Member.Value/escaped", 1, func() { sinkStr = escaped.Value() }},
		{"Member.AppendValue/escaped", 0, func() { buf = escaped.AppendValue(buf[:0]) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testkit.WantAllocs(t, tt.n, tt.f) })
	}
}
