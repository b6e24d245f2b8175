package engine

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestIdleTimeoutUnits: an idle timeout written as a bare number
// (WithIdleTimeout(300), meant as seconds, is 300 ns) is refused, as a
// flush interval under 1 ms is, naming the value: New took anything
// positive, and the reaper then closed every run within its first 10 ms
// as incomplete, the calls on its handles after that counted as stale.
func TestIdleTimeoutUnits(t *testing.T) {
	for _, d := range []time.Duration{1, 300, 999 * time.Microsecond} {
		e, err := New(WithIdleTimeout(d))
		if e != nil {
			_ = e.Shutdown(t.Context())
		}
		if !errors.Is(err, ErrInvalidIdleTimeout) || !strings.Contains(err.Error(), d.String()) {
			t.Errorf("WithIdleTimeout(%v): %v, want ErrInvalidIdleTimeout naming it", d, err)
		}
	}
	e, err := New(WithIdleTimeout(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_ = e.Shutdown(t.Context())
}
