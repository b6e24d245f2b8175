package w3c

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The otel sub-benchmarks run OpenTelemetry Go v1.47 on the same headers.
// Its propagators work on a context and a carrier, so the otel numbers for
// traceparent include building the context; the tracestate and baggage
// ones call the parsers directly.

func BenchmarkTraceParent(b *testing.B) {
	b.Run("parse/w3c", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(TraceParentLen)
		for b.Loop() {
			sinkTP, sinkErr = ParseTraceParent(validTP)
		}
	})
	b.Run("parse/otel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(TraceParentLen)
		c := propagation.MapCarrier{"traceparent": validTP}
		ctx := context.Background()
		for b.Loop() {
			_ = propagation.TraceContext{}.Extract(ctx, c)
		}
	})
	tp, _ := ParseTraceParent(validTP)
	b.Run("format/w3c", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(TraceParentLen)
		var buf [TraceParentLen]byte
		for b.Loop() {
			sinkN += len(AppendTraceParent(buf[:0], tp))
		}
	})
	b.Run("format/otel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(TraceParentLen)
		sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tp.TraceID, SpanID: tp.SpanID, TraceFlags: trace.TraceFlags(tp.Flags)})
		ctx := trace.ContextWithSpanContext(context.Background(), sc)
		c := propagation.MapCarrier{}
		for b.Loop() {
			propagation.TraceContext{}.Inject(ctx, c)
		}
	})
}

func BenchmarkTraceState(b *testing.B) {
	b.Run("parse/w3c", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(typicalTraceState)))
		for b.Loop() {
			sinkTS, sinkErr = ParseTraceState(typicalTraceState)
		}
	})
	b.Run("parse/otel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(typicalTraceState)))
		for b.Loop() {
			_, sinkErr = trace.ParseTraceState(typicalTraceState)
		}
	})
	ts, _ := ParseTraceState(typicalTraceState)
	ots, _ := trace.ParseTraceState(typicalTraceState)
	b.Run("format/w3c", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 256)
		for b.Loop() {
			buf = AppendTraceState(buf[:0], ts)
		}
	})
	b.Run("format/otel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkStr = ots.String()
		}
	})
	b.Run("insert/w3c", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkTS, sinkErr = ts.Insert("congo", "x")
		}
	})
	b.Run("insert/otel", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, sinkErr = ots.Insert("congo", "x")
		}
	})
}

func BenchmarkBaggage(b *testing.B) {
	for _, h := range []struct{ name, s string }{{"plain", plainBaggage}, {"escaped", typicalBaggage}} {
		b.Run("parse/"+h.name+"/w3c", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(h.s)))
			for b.Loop() {
				sinkBag, sinkErr = ParseBaggage(h.s)
			}
		})
		b.Run("parse/"+h.name+"/otel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(h.s)))
			for b.Loop() {
				_, sinkErr = baggage.Parse(h.s)
			}
		})
		bag, _ := ParseBaggage(h.s)
		obag, _ := baggage.Parse(h.s)
		b.Run("parse+values/"+h.name+"/w3c", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bg, _ := ParseBaggage(h.s)
				for m := range bg.All() {
					sinkStr = m.Value()
				}
			}
		})
		b.Run("format/"+h.name+"/w3c", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 256)
			for b.Loop() {
				buf = AppendBaggage(buf[:0], bag)
			}
		})
		b.Run("format/"+h.name+"/otel", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkStr = obag.String()
			}
		})
	}
}
