package engine

import (
	"errors"
	"fmt"
	"net/url"
	"syscall"
	"testing"

	"github.com/flowtel/flowtel/internal/testkit"
)

type valueErr struct{}

func (valueErr) Error() string { return "value" }

// TestErrorType: exception.type is what OpenTelemetry Go's RecordError
// writes (otelbridge's TestBridgeExceptionTypeAsSDK compares with the
// SDK itself): a pointer's type as reflect writes it, a named type's
// package path and name; and it allocates nothing once a type was seen.
func TestErrorType(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{errors.New("x"), "*errors.errorString"},
		{fmt.Errorf("w: %w", errors.New("x")), "*fmt.wrapError"},
		{&url.Error{Err: errors.New("x")}, "*url.Error"},
		{syscall.EINVAL, "syscall.Errno"},
		{valueErr{}, "github.com/flowtel/flowtel/engine.valueErr"},
	} {
		if got := errorType(c.err); got != c.want {
			t.Errorf("%T: %q, want %q", c.err, got, c.want)
		}
	}
	var err error = valueErr{}
	testkit.WantAllocs(t, 0, func() { _ = errorType(err) })
}
