package export

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestRetryExhaustedReportedOncePerOutage: a receiver that is down makes
// every batch exhaust its retries; each (signal, status) is reported once
// per outage, where every batch was reported (12 reports for 4 batches of
// 3 signals), and every item is counted. After a success of the signal
// the next outage is reported again.
func TestRetryExhaustedReportedOncePerOutage(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		var down atomic.Bool
		down.Store(true)
		c := newReceiver(t, protocol, func(otlptest.Call) otlptest.Reply {
			if down.Load() {
				return otlptest.Reply{Code: codes.Unavailable, Message: "down for maintenance"}
			}
			return otlptest.Reply{}
		})
		c.Start()
		defer c.Stop()
		cfg := oneBatchPerRequest(testConfig(protocol, c.Endpoint()))
		cfg.Retry.MaxElapsedTime = 100 * time.Millisecond
		e, log := newLogged(t, cfg)
		var produced [NumSignals]uint64
		for sig := Signal(0); sig < NumSignals; sig++ {
			produced[sig] = produce(t, e, sig, "a", 4, 5)
		}
		s := flushChecked(t, e)
		for sig := Signal(0); sig < NumSignals; sig++ {
			if st := s.Signals[sig]; st.DroppedBy[DropRetryExhausted] != produced[sig] {
				t.Errorf("%s: %+v, want %d retry_exhausted", sig, st, produced[sig])
			}
		}
		status := "gRPC Unavailable"
		if protocol != ProtocolGRPC {
			status = "HTTP 503"
		}
		wantReports := func(phase string, n int) {
			t.Helper()
			errs := log.all()
			if len(errs) != n {
				t.Fatalf("%s: %d reports, want %d: %q", phase, len(errs), n, errs)
			}
			for _, err := range errs {
				msg := err.Error()
				if !strings.Contains(msg, status+`: "down for maintenance"; retries exhausted after `) ||
					!strings.HasSuffix(msg, "are exported again; Stats counts every item)") {
					t.Errorf("%s: report %q", phase, msg)
				}
			}
		}
		wantReports("first outage", 3)

		// The receiver is back: one batch of traces goes through.
		down.Store(false)
		produce(t, e, Traces, "b", 1, 5)
		flushChecked(t, e)
		// It fails again: traces are reported again, the other signals,
		// whose outage never ended, are not.
		down.Store(true)
		for sig := Signal(0); sig < NumSignals; sig++ {
			produce(t, e, sig, "c", 2, 5)
		}
		flushChecked(t, e)
		wantReports("second outage", 4)
		shutdown(t, e)
	})
}
