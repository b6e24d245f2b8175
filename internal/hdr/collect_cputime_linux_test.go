package hdr

import (
	"strconv"
	"testing"

	"github.com/flowtel/flowtel/internal/testkit"
)

// TestCollectCPUTime prints the collector's thread CPU time of a
// collection pass over 128 histograms (engine's default series limit per
// family), each drained by Snapshot, per histogram:
//
//	go test -run TestCollectCPUTime -v ./internal/hdr/ -cputime | grep ^Benchmark
//
// idle: nothing recorded since the last pass; one: one value recorded in
// each since, on the collector's P; spread: values from 100 µs to 10 s
// recorded in each, so that the fold reads most of the dense counts, as
// a latency histogram's. The fence path pays one membarrier for each
// shard recorded into since the last pass (doc.go); vec/one and
// vec/spread drain 128 series of a Vec together through a Batch, then
// read them (SnapshotDrained), which pays one per P for the family.
func TestCollectCPUTime(t *testing.T) {
	testkit.NeedCPUTime(t)
	const series = 128
	hs := make([]*Histogram, series)
	for i := range hs {
		hs[i] = mustNew(t, Config{})
		hs[i].Record(int64(i) + 1)
	}
	var s Snapshot
	pass := func() {
		for _, h := range hs {
			h.Snapshot(&s)
		}
	}
	pass()
	// The same through a Vec's Each, as engine collects a family.
	v, err := NewHistogramVec(Config{}, []string{"k"}, series)
	if err != nil {
		t.Fatal(err)
	}
	vhs := make([]*Histogram, series)
	for i := range vhs {
		vhs[i] = v.With(&LabelValues{strconv.Itoa(i)})
		vhs[i].Record(int64(i) + 1)
	}
	var b Batch
	vpass := func() {
		AddVec(&b, v, func(h *Histogram) *Histogram { return h })
		b.Drain()
		v.Each(func(_ *LabelValues, h *Histogram, _ bool) { h.SnapshotDrained(&s) })
	}
	vpass()
	testkit.PrintCPUTime("Collect/idle", series, "histogram", pass)
	printPasses("Collect/", hs, pass)
	printPasses("Collect/vec/", vhs, vpass)
}

// printPasses prints the cost of pass after one value recorded in each of
// hs, and after two far apart.
func printPasses(prefix string, hs []*Histogram, pass func()) {
	testkit.PrintCPUTime(prefix+"one", len(hs), "histogram", func() {
		for i, h := range hs {
			h.Record(int64(i) + 100)
		}
		pass()
	})
	testkit.PrintCPUTime(prefix+"spread", len(hs), "histogram", func() {
		for _, h := range hs {
			h.Record(100)
			h.Record(10_000_000)
		}
		pass()
	})
}
