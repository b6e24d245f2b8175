package engine

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
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

// structErr is an unnamed type that is an error, through embedding.
var structErr error = struct{ error }{errors.New("embedded")}

func TestErrorTypeUnnamed(t *testing.T) {
	if got := errorType(structErr); got != "struct { error }" {
		t.Errorf("unnamed: %q", got)
	}
}

// BenchmarkErrorType compares errorType with reflect's String, what
// exception.type was before, for a pointer and a named value type.
func BenchmarkErrorType(b *testing.B) {
	for _, c := range []struct {
		name string
		err  error
	}{{"pointer", errors.New("x")}, {"value", valueErr{}}} {
		b.Run(c.name+"/reflect_String", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				benchTypeSink = reflect.TypeOf(c.err).String()
			}
		})
		b.Run(c.name+"/errorType", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				benchTypeSink = errorType(c.err)
			}
		})
	}
}

var benchTypeSink string
