package main

import (
	"bytes"
	"encoding/json"
	"io"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// withProcs runs f with GOMAXPROCS n, the engine's default shard count,
// which the bytes a ring takes up front depend on.
func withProcs(t *testing.T, n int, f func()) {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(n))
	f()
}

// TestRingPastRecordBound runs a ring larger than the bound the flags put
// on the engine's records (-nodes 1, -concurrency 1, -queue-bytes 1 MiB:
// 28 MiB; 2 shards x 1,048,576 slots: 32 MiB) through the real embedded
// receiver: it runs and reconciles. The loadgen gave the engine that
// bound as its memory limit, rings included, and the flag was refused
// blaming "-batch 512, -ring 1048576, -block, ...: WithMemoryLimit(29378560)
// leaves no room for a run", a limit no flag sets (and -block not given),
// as -ring 16777216 was with -workload synthetic's 398 MiB.
func TestRingPastRecordBound(t *testing.T) {
	withProcs(t, 2, func() {
		var out, errb bytes.Buffer
		code := run([]string{"-workload=synthetic", "-nodes=1", "-concurrency=1", "-queue-bytes=1048576", "-ring=1048576",
			"-duration=300ms", "-rate=500", "-json", "-progress=false"}, &out, &errb)
		if code != 0 {
			t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
		}
		var rep struct {
			Reconciled  bool   `json:"reconciled"`
			Produced    uint64 `json:"produced"`
			Exported    uint64 `json:"exported"`
			Received    uint64 `json:"received"`
			MemoryBound uint64 `json:"memory_bound_bytes"`
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("report: %v\n%s", err, out.String())
		}
		if !rep.Reconciled || rep.Produced == 0 || rep.Received != rep.Exported {
			t.Errorf("produced %d, exported %d, received %d, reconciled %v", rep.Produced, rep.Exported, rep.Received, rep.Reconciled)
		}
		if rings := uint64(2 * 1048576 * 16); rep.MemoryBound < rings+28<<20 {
			t.Errorf("memory bound %d leaves the records less than their 28 MiB beside the rings' %d", rep.MemoryBound, rings)
		}
	})
}

// TestRingRefusalNamesWorkingValue: a -ring the engine refuses (not a
// power of two, below 2, rings past what it allocates up front or past
// ringbuf's bound) is refused naming -ring and a value that works; that
// value is then taken.
func TestRingRefusalNamesWorkingValue(t *testing.T) {
	works := regexp.MustCompile(`-ring (\d+) works here`)
	withProcs(t, 2, func() {
		for _, ring := range []string{"3", "1", "67108864", "1073741824", "4611686018427387904"} {
			_, err := parseFlags([]string{"-workload=synthetic", "-ring=" + ring}, io.Discard)
			if err == nil {
				t.Errorf("-ring %s: taken", ring)
				continue
			}
			msg := err.Error()
			m := works.FindStringSubmatch(msg)
			if !strings.HasPrefix(msg, "-ring "+ring+": ") || m == nil || strings.Contains(msg, "\n") {
				t.Errorf("-ring %s: %q, want one line naming -ring and a value that works", ring, msg)
				continue
			}
			if _, err := parseFlags([]string{"-workload=synthetic", "-ring=" + m[1]}, io.Discard); err != nil {
				t.Errorf("-ring %s: the message offers -ring %s, which is refused: %v", ring, m[1], err)
			}
		}
	})
}

// TestFlagCheckAllocatesNoRings: the flag check of -ring 16777216 (512 MiB
// of slots on 2 shards) takes it and allocates none of the rings. It built
// the whole engine: 168 ms and 128 MiB for -ring 4194304.
func TestFlagCheckAllocatesNoRings(t *testing.T) {
	withProcs(t, 2, func() {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		c, err := parseFlags([]string{"-workload=synthetic", "-ring=16777216"}, io.Discard)
		runtime.ReadMemStats(&m1)
		if err != nil {
			t.Fatalf("-ring 16777216 refused: %v", err)
		}
		if alloc := m1.TotalAlloc - m0.TotalAlloc; alloc > 16<<20 {
			t.Errorf("the flag check allocated %d bytes", alloc)
		}
		if _, bound, err := engineOptions(c); err != nil || bound < memoryBound(c)+512<<20 {
			t.Errorf("engine memory bound %d (%v): want the records' %d and the rings' 512 MiB", bound, err, memoryBound(c))
		}
	})
}
