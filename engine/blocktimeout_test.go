package engine

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestBlockTimeoutMinimum: WithOverflow(Block, d) with d under
// MinBlockTimeout (10ns: milliseconds written without their unit) was
// accepted, and a caller meeting a full ring gave up before the pipeline
// could free a slot: a drop dressed as a wait. New refuses it with
// ErrBlockTimeout, naming the value and the minimum; the minimum itself,
// and any timeout under the policies that do not wait, are accepted.
func TestBlockTimeoutMinimum(t *testing.T) {
	for _, d := range []time.Duration{1, 10, time.Microsecond, MinBlockTimeout - 1} {
		e, err := New(WithOverflow(Block, d))
		if e != nil {
			_ = e.Shutdown(t.Context())
		}
		if !errors.Is(err, ErrBlockTimeout) || !strings.Contains(err.Error(), d.String()) || !strings.Contains(err.Error(), MinBlockTimeout.String()) {
			t.Errorf("WithOverflow(Block, %v): New = %v, want ErrBlockTimeout naming %v and %v", d, err, d, MinBlockTimeout)
		}
	}
	for _, o := range []Option{WithOverflow(Block, MinBlockTimeout), WithOverflow(DropNewest, 10), WithOverflow(DropOldest, 0)} {
		e, err := New(o)
		if err != nil {
			t.Errorf("refused: %v", err)
			continue
		}
		_ = e.Shutdown(t.Context())
	}
}
