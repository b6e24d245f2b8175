package engine

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/flowtel/flowtel/sid"
)

// TestValidateAgreesWithNew feeds Validate and New the same settings:
// the property test's random values (engineSettings) and each refusal New
// makes past the settings' own ranges (the memory limit, the SID's
// length, the tail policy against the metrics and the sink). Validate
// returns New's error, message for message, and for settings New takes,
// what the new engine holds before its first run (the rings and the
// arena).
func TestValidateAgreesWithNew(t *testing.T) {
	fixed := [][]Option{
		{WithShards(2), WithRingCapacity(1 << 25)}, // 1 GiB of slots up front
		{WithMemoryLimit(1 << 20)},
		{WithMemoryLimit(0)},
		{WithShards(2), WithRingCapacity(1 << 22), WithMemoryLimit(64 << 20)},
		{WithBatch(1<<20+1, time.Second)},
		{WithRingCapacity(3)},
		{WithSID(sid.Config{Sub: strings.Repeat("s", 200), Location: "hf", IP: "127.0.0.1", Port: "1"})},
		{WithMetrics(MetricsConfig{SkipRunRequests: true}), WithTailSampling(TailPolicy{SlowestFraction: 0.01})},
		{WithSink(spansOnlySink{}), WithTailSampling(TailPolicy{Ratio: 0.5, RunLogAlways: true})},
		{WithTailSampling(TailPolicy{Ratio: 2})},
		{WithShards(2), WithRingCapacity(1 << 10), WithLimits(Limits{RunsInFlight: 100})},
		nil,
	}
	seed := uint64(time.Now().UnixNano())
	r := rand.New(rand.NewPCG(seed, 17))
	cases := make([]struct {
		what string
		opts []Option
	}, 0, len(fixed)+100)
	for i, opts := range fixed {
		cases = append(cases, struct {
			what string
			opts []Option
		}{fmt.Sprintf("fixed %d", i), opts})
	}
	for i := range 100 {
		var opts []Option
		var desc []string
		for range 1 + r.IntN(3) {
			s := engineSettings[r.IntN(len(engineSettings))]
			v, str := randomValue(r), randomString(r)
			opts = append(opts, s.opt(v, str))
			desc = append(desc, fmt.Sprintf("%s(%d, %.10q)", s.names[0], v, str))
		}
		cases = append(cases, struct {
			what string
			opts []Option
		}{fmt.Sprintf("seed %d case %d: %s", seed, i, strings.Join(desc, ", ")), opts})
	}
	refused := 0
	for _, c := range cases {
		upFront, verr := Validate(c.opts...)
		e, nerr := New(c.opts...)
		if fmt.Sprint(verr) != fmt.Sprint(nerr) {
			t.Errorf("%s: Validate says %v, New %v", c.what, verr, nerr)
		}
		if e == nil {
			refused++
			if upFront != 0 {
				t.Errorf("%s: refused, yet Validate returns %d bytes up front", c.what, upFront)
			}
			continue
		}
		if held := e.Stats().HeldBytes; upFront != held {
			t.Errorf("%s: Validate returns %d bytes up front, the new engine holds %d", c.what, upFront, held)
		}
		if err := e.Shutdown(t.Context()); err != nil {
			t.Errorf("%s: Shutdown: %v", c.what, err)
		}
	}
	if refused == 0 || refused == len(cases) {
		t.Errorf("%d of %d cases refused: the table tries nothing on one side", refused, len(cases))
	}
}

// TestValidateAllocatesNothingUpFront: Validate of settings whose rings
// take 512 MiB allocates none of it (a program checking its flags paid
// the whole engine: 168 ms and 128 MiB for the loadgen's -ring 4194304),
// and says what New would take.
func TestValidateAllocatesNothingUpFront(t *testing.T) {
	const shards, capacity = 2, 1 << 24
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	upFront, err := Validate(WithShards(shards), WithRingCapacity(capacity), WithLimits(Limits{RunsInFlight: 1000}))
	runtime.ReadMemStats(&m1)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(shards*capacity*ringSlotBytes + 1000*arenaSlotBytes); upFront != want {
		t.Errorf("Validate returns %d bytes up front, want %d", upFront, want)
	}
	if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 1<<20 {
		t.Errorf("Validate allocated %d bytes; the rings are %d", alloc, upFront)
	}
}
