package otlp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
)

// TestNewFromEnvProperty drives random environments through NewFromEnv
// (OTLP export off: nothing is dialled): the variables it reads with
// numbers, durations, ratios and switches, each unset, valid, or at or
// past an edge (zero, negative, NaN, infinite, past int64, with spaces,
// hexadecimal). A value that would break later must be refused with an
// error naming its variable; an accepted environment must run a short run
// through ForceFlush and Shutdown without a panic, every wait ending (the
// context bounds a hang; no duration is asserted).
func TestNewFromEnvProperty(t *testing.T) {
	vars := []string{
		"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
		"OTEL_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_EVENT_COUNT_LIMIT", "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
		"OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "OTEL_SPAN_LINK_COUNT_LIMIT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
		"OTEL_TRACES_SAMPLER_ARG", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE",
		"OTLP_TRACE_SCHEDULE_DELAY_MILLIS", "OTLP_TRACE_MAX_EXPORT_BATCH_SIZE", "OTEL_METRIC_EXPORT_INTERVAL",
		"OTEL_BLRP_SCHEDULE_DELAY", "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "OTEL_BLRP_MAX_QUEUE_SIZE", "SERVICE_PORT",
	}
	values := []string{"0", "-1", "1", "2", "7", "128", "512", "3000", "65536", "16777216", "16777217", "NaN", "Inf", "-Inf",
		"1e309", "0.5", "1e-300", "9223372036854775807", "9223372036854775808", "-9223372036854775808", " 7 ", "0x10", "x"}
	switches := map[string][]string{
		"OTEL_TRACES_SAMPLER":                               {"always_on", "traceidratio", "parentbased_traceidratio", "always_off", "x"},
		"OTEL_SDK_DISABLED":                                 {"true", "false", "x"},
		"OTEL_METRICS_EXPORTER":                             {"otlp", "none", "prometheus", "x"},
		"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE": {"delta", "cumulative", "lowmemory", "x"},
	}
	iters := 300
	if testing.Short() {
		iters = 60
	}
	seed := rand.Uint64()
	r := rand.New(rand.NewPCG(11, seed))
	t.Logf("seed %d", seed)
	accepted := 0
	for i := range iters {
		env := map[string]string{"OTLP_ENABLE": "false"}
		for range 1 + r.IntN(4) {
			env[vars[r.IntN(len(vars))]] = values[r.IntN(len(values))]
		}
		for k, vs := range switches {
			if r.IntN(4) == 0 {
				env[k] = vs[r.IntN(len(vs))]
			}
		}
		keys := make([]string, 0, len(env))
		for k, v := range env {
			keys = append(keys, k+"="+v)
		}
		sort.Strings(keys)
		what := fmt.Sprintf("#%d %s", i, strings.Join(keys, " "))
		e, err := newFromLookup(lookupMap(env))
		if err != nil {
			named := false
			for k := range env {
				named = named || strings.Contains(err.Error(), k)
			}
			if !named || !errors.Is(err, export.ErrInvalidEnv) && !errors.Is(err, engine.ErrInvalidSampler) {
				t.Fatalf("%s: %v: an error that names none of the variables set, or wraps no sentinel", what, err)
			}
			continue
		}
		accepted++
		envShortRun(t, what, e)
	}
	if accepted == 0 || accepted == iters {
		t.Fatalf("%d of %d environments accepted: the generator exercises one side only", accepted, iters)
	}
	t.Logf("%d of %d environments accepted", accepted, iters)
}

// envShortRun runs one run through e and shuts it down.
func envShortRun(t *testing.T, what string, e *engine.Engine) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("%s: panic: %v", what, p)
		}
	}()
	run := e.StartRun(engine.RunInfo{FlowID: "f"})
	n := run.StartNode("llm:1", "llm", "LLM")
	n.Input(engine.String("q", strings.Repeat("x", 300)), engine.Int64("i", 1))
	n.InfoEvent(engine.String("a", "1"), engine.String("b", "2"), engine.String("c", "3"))
	n.RecordError(errors.New("boom"))
	run.End(0, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.ForceFlush(ctx); err != nil {
		t.Fatalf("%s: ForceFlush: %v", what, err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatalf("%s: Shutdown: %v", what, err)
	}
}

// TestNewFromEnvSIDNamed: a SID setting the engine would refuse is
// refused by NewFromEnv naming its variable; the engine's error named
// sid.Config's fields (Sub, Port), which the user never set, and wrapped
// no export.ErrInvalidEnv (TestNewFromEnvProperty found SERVICE_PORT=128).
func TestNewFromEnvSIDNamed(t *testing.T) {
	for env, names := range map[string][]string{
		"SERVICE_PORT=128":                       {"SERVICE_PORT"},
		"SERVICE_SUB=a b":                        {"SERVICE_SUB"},
		"SERVICE_LOCATION=":                      nil, // empty: the default
		"SERVICE_IP=::1":                         {"SERVICE_IP"},
		"SERVICE_SUB=" + strings.Repeat("s", 30): {"SERVICE_SUB", "SERVICE_LOCATION"},
	} {
		k, v, _ := strings.Cut(env, "=")
		e, err := newFromLookup(lookupMap(map[string]string{"OTLP_ENABLE": "false", k: v}))
		if names == nil {
			if err != nil {
				t.Errorf("%s: %v", env, err)
			} else {
				_ = e.Shutdown(context.Background())
			}
			continue
		}
		if !errors.Is(err, export.ErrInvalidEnv) {
			t.Errorf("%s: %v, want export.ErrInvalidEnv", env, err)
			continue
		}
		for _, name := range names {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("%s: %v does not name %s", env, err, name)
			}
		}
	}
}
