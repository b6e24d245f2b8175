package export

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/flowtel/flowtel/internal/otlptest"
)

// hostile values given to every setting by the property tests.
var (
	hostileInts = []int64{0, -1, 1, 7, 1 << 20, 1 << 40, math.MaxInt32, math.MaxInt64, math.MinInt64}
	hostileStrs = []string{"", "é", "\x00\xff", "grpc", "http/protobuf", "gzip", "none", "https://127.0.0.1:1",
		"x://y", "http://", strings.Repeat("a", 300), "/nonexistent/file"}
	hostileHeaders = []map[string]string{nil, {}, {"x-token": "v"}, {"é": "v"}, {"k": "vé"}, {"k": "\x00"},
		{"": "v"}, {"grpc-timeout": "1S"}, {"k-bin": "\xff"}, {"K": "v\tv"}}
)

// setting is one field of Config, by its path ("Retry.InitialInterval").
type setting struct {
	name  string
	index []int
	typ   reflect.Type
}

// settings lists every field of Config that holds data (not functions).
func configSettings() []setting {
	var out []setting
	var walk func(t reflect.Type, index []int, prefix string)
	walk = func(t reflect.Type, index []int, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			idx := append(append([]int(nil), index...), i)
			name := prefix + f.Name
			switch {
			case f.Type.Kind() == reflect.Func:
			case f.Type.Kind() == reflect.Struct:
				walk(f.Type, idx, name+".")
			default:
				out = append(out, setting{name: name, index: idx, typ: f.Type})
			}
		}
	}
	walk(reflect.TypeOf(Config{}), nil, "")
	return out
}

// hostileValues returns the values tried for a field of type t.
func hostileValues(t reflect.Type) []reflect.Value {
	var vs []reflect.Value
	switch {
	case t == reflect.TypeOf(time.Duration(0)) || t.Kind() == reflect.Int || t.Kind() == reflect.Int64:
		for _, n := range hostileInts {
			vs = append(vs, reflect.ValueOf(n).Convert(t))
		}
	case t.Kind() == reflect.String:
		for _, s := range hostileStrs {
			vs = append(vs, reflect.ValueOf(s))
		}
	case t.Kind() == reflect.Bool:
		vs = append(vs, reflect.ValueOf(true), reflect.ValueOf(false))
	case t == reflect.TypeOf(map[string]string(nil)):
		for _, h := range hostileHeaders {
			vs = append(vs, reflect.ValueOf(h))
		}
	case t == reflect.TypeOf([]KeyValue(nil)):
		vs = append(vs, reflect.ValueOf([]KeyValue{{"k", "v"}, {"é", "\xff"}, {"", ""}}))
	default:
		panic("BUG: no hostile values for " + t.String())
	}
	return vs
}

// TestEverySettingChecked is the property test over Config: every field
// gets zero, negative, huge, MaxInt64, non-ASCII and malformed values, one
// field at a time and then all at once. New either refuses the
// configuration with an error naming the field, or the exporter runs a
// workload (retries included) against a real receiver without panic and
// accounts for every item.
func TestEverySettingChecked(t *testing.T) {
	r := otlptest.Start(t, ProtocolGRPC, func(c otlptest.Call) otlptest.Reply {
		if strings.HasPrefix(c.Batch, "retry") && c.Attempt == 0 {
			return otlptest.Reply{Code: codes.Unavailable}
		}
		return otlptest.Reply{}
	})
	base := testConfig(ProtocolGRPC, r.Endpoint())
	refused, ran := 0, 0
	fields := configSettings()
	for _, f := range fields {
		for _, v := range hostileValues(f.typ) {
			cfg := base
			reflect.ValueOf(&cfg).Elem().FieldByIndex(f.index).Set(v)
			e, err := New(cfg)
			if err != nil {
				refused++
				if !strings.Contains(err.Error(), f.name) {
					t.Errorf("%s = %#v: the error %q does not name the field", f.name, v, err)
				}
				continue
			}
			ran++
			workload(t, f.name+"="+v.String(), e, strings.HasPrefix(f.name, "Retry."))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		cfg := base
		for _, f := range fields {
			if rng.IntN(3) == 0 {
				vs := hostileValues(f.typ)
				reflect.ValueOf(&cfg).Elem().FieldByIndex(f.index).Set(vs[rng.IntN(len(vs))])
			}
		}
		e, err := New(cfg)
		if err != nil {
			refused++
			if !isConfigError(err) {
				t.Errorf("mixed %d: %v wraps none of the package's sentinel errors", i, err)
			}
			continue
		}
		ran++
		workload(t, "mixed", e, true)
	}
	t.Logf("%d fields: %d configurations refused, %d ran", len(fields), refused, ran)
}

func isConfigError(err error) bool {
	for _, s := range []error{ErrInvalidProtocol, ErrInvalidCompression, ErrInvalidEndpoint, ErrInvalidHeader, ErrInvalidConfig, ErrTLS} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// workload sends a batch of each signal (failing its first attempt when
// retry is set), waits for them a little, shuts down and checks that every
// item is accounted for.
func workload(t *testing.T, what string, e *Exporter, retry bool) {
	t.Helper()
	prefix := "ok"
	if retry {
		prefix = "retry"
	}
	for sig := Signal(0); sig < NumSignals; sig++ {
		e.Enqueue(sig, encodeBatch(t, sig, prefix, 3), 3)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = e.ForceFlush(ctx)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	_ = e.Shutdown(ctx2)
	s := e.Stats()
	for sig := Signal(0); sig < NumSignals; sig++ {
		if st := s.Signals[sig]; st.Enqueued != 3 || st.InFlight != 0 || st.Exported+st.Rejected+st.Dropped != 3 {
			t.Errorf("%s: %s: %+v", what, sig, st)
		}
	}
}

// envVars returns every variable FromLookup reads, found by recording its
// lookups.
func envVars(t *testing.T) []string {
	seen := map[string]bool{}
	_, err := FromLookup(func(k string) (string, bool) { seen[k] = true; return "", false })
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestEveryVariableChecked is the property test over the environment: each
// variable FromLookup reads gets zero, negative, huge, MaxInt64, non-ASCII
// and malformed values. FromLookup either returns an error wrapping
// ErrInvalidEnv that names the variable (and never prints a HEADERS or
// ENDPOINT value), or New accepts the configuration and the exporter runs
// and shuts down without panic.
func TestEveryVariableChecked(t *testing.T) {
	values := []string{"0", "-1", "1", "86400001", "9223372036854775807", "99999999999999999999", "é", "\x00\xff",
		"true", "grpc", "gzip", "a=b", "k=%zz", "é=1", "http://user:pa55word@127.0.0.1:1/?k=s3cr3tv", "ftp://user:pa55word@h/?k=s3cr3tv"}
	vars := envVars(t)
	if len(vars) < 40 {
		t.Fatalf("only %d variables read: %v", len(vars), vars)
	}
	refused, ran := 0, 0
	for _, name := range vars {
		for _, v := range values {
			cfg, err := FromLookup(lookupOf(map[string]string{name: v}))
			if err != nil {
				refused++
				msg := err.Error()
				if !errors.Is(err, ErrInvalidEnv) || !strings.Contains(msg, name) {
					t.Errorf("%s=%q: %q does not name the variable", name, v, msg)
				}
				if strings.Contains(msg, "pa55word") || strings.Contains(msg, "s3cr3tv") {
					t.Errorf("%s=%q: %q prints a credential", name, v, msg)
				}
				continue
			}
			e, err := New(cfg)
			if err != nil {
				t.Errorf("%s=%q: FromLookup accepted it, New refused it: %v", name, v, err)
				continue
			}
			ran++
			e.Enqueue(Traces, encodeBatch(t, Traces, "env", 1), 1)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			_ = e.Shutdown(ctx)
			cancel()
			if st := e.Stats().Signals[Traces]; st.InFlight != 0 || st.Exported+st.Dropped != 1 {
				t.Errorf("%s=%q: %+v", name, v, st)
			}
		}
	}
	t.Logf("%d variables: %d values refused, %d ran", len(vars), refused, ran)
}
