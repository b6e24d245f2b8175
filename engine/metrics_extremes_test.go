package engine

import (
	"bytes"
	"context"
	"math"
	"strconv"
	"testing"
	"time"
)

// TestRequestDurationExtremes records request latencies outside the
// histograms' range (negative, zero, past MetricsConfig.Highest, the
// extremes of time.Duration) through both request calls, from several
// goroutines: each is counted once (clamped into range), the sum stays
// within what the clamped values add to, and the exposition, the OTLP
// metrics and Bottlenecks read them without a panic.
func TestRequestDurationExtremes(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(context.Background())
	ds := []time.Duration{math.MinInt64, -time.Hour, -1, 0, 1, time.Microsecond, 2 * time.Hour, math.MaxInt64}
	const goroutines, rounds = 3, 200
	done := make(chan struct{})
	for range goroutines {
		go func() {
			defer func() { done <- struct{}{} }()
			s := e.RequestSeries("app", "flow", 0)
			for range rounds {
				for _, d := range ds {
					s.Record(d)
					e.RecordRequest("app", "flow", 0, d)
				}
			}
		}()
	}
	for range goroutines {
		<-done
	}
	want := strconv.Itoa(2 * goroutines * rounds * len(ds))
	prom := e.AppendPrometheus(nil)
	if !bytes.Contains(prom, []byte(`app_id="app",func="flow",ret="0"}`)) ||
		!bytes.Contains(prom, []byte(`app_id="app",func="flow"}`)) {
		t.Fatalf("no request series:\n%s", prom)
	}
	for _, line := range bytes.Split(prom, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("server_request_total{")) || bytes.HasPrefix(line, []byte("server_request_time_microseconds_count{")) {
			if f := bytes.Fields(line); string(f[len(f)-1]) != want {
				t.Errorf("%s, want %s", line, want)
			}
		}
		if bytes.HasPrefix(line, []byte("server_request_time_microseconds_sum{")) {
			f := bytes.Fields(line)
			sum, err := strconv.ParseFloat(string(f[len(f)-1]), 64)
			if err != nil || sum < 0 {
				t.Errorf("%s: a sum below 0 or unreadable (%v)", line, err)
			}
		}
	}
	_ = e.Bottlenecks()
}
