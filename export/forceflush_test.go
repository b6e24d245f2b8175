package export

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flowtel/flowtel/internal/otlptest"
)

// TestForceFlushReportsDrops: ForceFlush returns nil when the receiver took
// every batch it waited for, and an error wrapping ErrDropped and the
// export's (redacted) error when the receiver refused them, for good or
// until the retries ran out; a later flush whose batches were exported
// returns nil again.
func TestForceFlushReportsDrops(t *testing.T) {
	const secret = "flush-secret-9"
	forEachProtocol(t, func(t *testing.T, protocol string) {
		for _, tc := range []struct {
			name   string
			reply  otlptest.Reply
			reason DropReason
		}{
			{"accepted", otlptest.Reply{}, NumDropReasons},
			{"refused", otlptest.Reply{Code: codes.InvalidArgument, HTTPStatus: http.StatusBadRequest, Message: "bad token " + secret}, DropNonRetryable},
			{"unavailable", otlptest.Reply{Code: codes.Unavailable, HTTPStatus: http.StatusServiceUnavailable, Message: "down " + secret}, DropRetryExhausted},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var refuse atomic.Bool
				c := newReceiver(t, protocol, func(otlptest.Call) otlptest.Reply {
					if refuse.Load() {
						return tc.reply
					}
					return otlptest.Reply{}
				})
				c.Start()
				defer c.Stop()
				cfg := testConfig(protocol, c.Endpoint())
				cfg.Headers = map[string]string{"X-Token": secret}
				cfg.Retry = RetryConfig{Disabled: true}
				e, _ := newLogged(t, cfg)
				defer shutdown(t, e)

				refuse.Store(true)
				produce(t, e, Traces, "a", 3, 5)
				produce(t, e, Logs, "a", 2, 4)
				err := e.ForceFlush(context.Background())
				s := e.Stats()
				checkIdentity(t, s)
				if tc.reason == NumDropReasons {
					if err != nil || s.Signals[Traces].Exported != 15 || s.Signals[Logs].Exported != 8 {
						t.Fatalf("ForceFlush = %v with %+v, want nil and everything exported", err, s.Signals)
					}
					return
				}
				if err == nil || !errors.Is(err, ErrDropped) {
					t.Fatalf("ForceFlush = %v, want ErrDropped", err)
				}
				if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "REDACTED") {
					t.Errorf("ForceFlush's error %q: want the receiver's message with the secret redacted", err)
				}
				if protocol == ProtocolGRPC {
					if got := status.Code(err); got != tc.reply.Code {
						t.Errorf("ForceFlush's error %q: gRPC code %v, want %v", err, got, tc.reply.Code)
					}
				}
				if got := s.Signals[Traces].DroppedBy[tc.reason] + s.Signals[Logs].DroppedBy[tc.reason]; got != 23 {
					t.Errorf("dropped %d items for %v, want 23: %+v", got, tc.reason, s.Signals)
				}

				// The drops were the last flush's: this one's batches are exported.
				refuse.Store(false)
				produce(t, e, Traces, "b", 2, 5)
				flushOK(t, e)
				if ex := e.Stats().Signals[Traces].Exported; ex != 10 {
					t.Errorf("exported %d spans after the receiver took them, want 10", ex)
				}
			})
		}
	})
}

// TestForceFlushTimeout: a flush whose context ends first returns its error,
// not ErrDropped.
func TestForceFlushTimeout(t *testing.T) {
	release := make(chan struct{})
	c := newReceiver(t, ProtocolHTTPProtobuf, func(otlptest.Call) otlptest.Reply {
		<-release
		return otlptest.Reply{}
	})
	c.Start()
	defer c.Stop()
	e, _ := newLogged(t, testConfig(ProtocolHTTPProtobuf, c.Endpoint()))
	defer shutdown(t, e)
	produce(t, e, Traces, "a", 1, 3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := e.ForceFlush(ctx)
	close(release)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrDropped) {
		t.Fatalf("ForceFlush = %v, want context.Canceled", err)
	}
}

// TestForceFlushReportsEarlierDrops: a batch enqueued since the last flush
// and dropped before ForceFlush was called is reported too (the engine
// hands its runs to the sink just before it flushes, and the exporter may
// have dropped them already); the flush after it returns nil.
func TestForceFlushReportsEarlierDrops(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, protocol string) {
		c := newReceiver(t, protocol, func(otlptest.Call) otlptest.Reply {
			return otlptest.Reply{Code: codes.PermissionDenied, HTTPStatus: http.StatusForbidden, Message: "no"}
		})
		c.Start()
		defer c.Stop()
		e, _ := newLogged(t, testConfig(protocol, c.Endpoint()))
		defer shutdown(t, e)
		produce(t, e, Traces, "a", 2, 3)
		for e.Stats().Signals[Traces].InFlight > 0 {
			time.Sleep(time.Millisecond) // the test's deadline bounds it
		}
		if err := e.ForceFlush(context.Background()); !errors.Is(err, ErrDropped) || status.Code(err) != codes.Unknown && status.Code(err) != codes.PermissionDenied {
			t.Fatalf("ForceFlush = %v, want ErrDropped", err)
		}
		flushOK(t, e)
	})
}
