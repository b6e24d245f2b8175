package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/flowtel/flowtel/bench"
	"github.com/flowtel/flowtel/engine"
	"github.com/flowtel/flowtel/export"
)

// modeReport is the final report of one mode. Span counts include the root
// span of each run.
type modeReport struct {
	Mode     string `json:"mode"`
	Endpoint string `json:"endpoint"`
	Protocol string `json:"protocol"`
	Workload string `json:"workload"`
	// LoadSec is the time load was generated; ElapsedSec adds the final
	// flush, until everything was delivered or counted as dropped.
	LoadSec    float64 `json:"load_sec"`
	ElapsedSec float64 `json:"elapsed_sec"`
	Runs       uint64  `json:"runs"`
	RunsPerSec float64 `json:"runs_per_sec"`
	// ProducedPerSec is spans offered per second of load.
	ProducedPerSec float64 `json:"produced_per_sec"`
	// SpansPerSec is spans delivered end to end (received by the embedded
	// receiver, or exported to an external endpoint) per elapsed second.
	SpansPerSec float64 `json:"spans_per_sec"`
	// NodeSpansPerSec is the same for node spans only (roots excluded).
	NodeSpansPerSec float64 `json:"node_spans_per_sec"`

	Produced uint64 `json:"produced"`
	Exported uint64 `json:"exported"`
	// SampledOut is spans flowtel's tail sampling (-sample-*) did not
	// export; ExportedBytes the OTLP bytes flowtel encoded (traces and
	// run logs), to compare a sampled run with an unsampled one.
	SampledOut    uint64 `json:"sampled_out,omitempty"`
	ExportedBytes uint64 `json:"exported_bytes,omitempty"`
	Dropped       uint64 `json:"dropped"`
	// DroppedBy splits Dropped by stage and reason, e.g. "engine.ring_full",
	// "exporter.queue_full", "otelsdk.silent".
	DroppedBy map[string]uint64 `json:"dropped_by"`
	InFlight  uint64            `json:"in_flight"`
	// Received is what the embedded receiver decoded; null with -endpoint.
	Received          *uint64 `json:"received"`
	ReceivedRootSpans *uint64 `json:"received_root_spans,omitempty"`
	// LogRecords* account the run trace logs (flowtel with -logs).
	LogRecordsExported uint64  `json:"log_records_exported,omitempty"`
	LogRecordsDropped  uint64  `json:"log_records_dropped,omitempty"`
	LogRecordsReceived *uint64 `json:"log_records_received,omitempty"`
	// NodesRefused counts node calls on runs the engine refused at StartRun;
	// they are in Produced, and the engine counts them as dropped for the
	// run's reason (run_limit or shutdown).
	NodesRefused uint64 `json:"nodes_refused,omitempty"`

	// Export describes the flowtel exporter's requests (traces).
	Export *exportReport `json:"export,omitempty"`

	Reconciled bool `json:"reconciled"`
	// Checks lists every identity checked, with its numbers.
	Checks []string `json:"checks"`

	Latency       latencyReport `json:"capture_latency_ns"`
	AllocsPerSpan float64       `json:"allocs_per_span"`
	BytesPerSpan  float64       `json:"bytes_per_span"`
	// CPUNsPerSpan is the process's CPU time (user and system, every
	// thread, the embedded receiver included) from the start of the load
	// to the end of shutdown, per span produced: on a shared host it moves
	// less than the rates with the CPU the host leaves the process, so a
	// before/after compares it too.
	CPUNsPerSpan float64  `json:"cpu_ns_per_span"`
	GC           gcReport `json:"gc"`
	PeakRSSBytes uint64   `json:"peak_rss_bytes"`
	// LiveHeapMaxBytes is the largest heap a GC marked live, sampled
	// every second of load.
	LiveHeapMaxBytes uint64 `json:"live_heap_max_bytes"`
	// RunsInFlight* are the runs started and not yet ended, sampled every
	// second of load.
	RunsInFlightMax   uint64  `json:"runs_in_flight_max"`
	RunsInFlightMean  float64 `json:"runs_in_flight_mean"`
	PeakRSSSinceStart bool    `json:"peak_rss_since_process_start,omitempty"`
	// MemoryBound is the configuration's bound on flowtel's memory (see
	// memoryBound); 0 for the SDK modes.
	MemoryBound uint64 `json:"memory_bound_bytes,omitempty"`
	// Bottlenecks is the engine's node bottleneck ranking (flowtel only).
	Bottlenecks []bottleneckRow `json:"node_bottlenecks"`

	hist                  *hdrhistogram.Histogram
	restarts, failedCalls uint64 // of the embedded receiver
}

// exportReport summarises the exporter's trace requests.
type exportReport struct {
	Requests      uint64  `json:"requests"`
	Retried       uint64  `json:"retried"`
	Batches       uint64  `json:"batches"`
	SpansPerBatch float64 `json:"spans_per_batch"`
	MeanLatencyMs float64 `json:"mean_latency_ms"`
	QueueBytes    int64   `json:"queue_bytes"`
}

// check records one identity and whether it holds.
func (r *modeReport) check(ok bool, format string, a ...any) {
	mark := "ok  "
	if !ok {
		mark = "FAIL"
		r.Reconciled = false
	}
	r.Checks = append(r.Checks, mark+" "+fmt.Sprintf(format, a...))
}

// fillFlowtel checks flowtel's accounting. The engine's Stats fold in what
// its sink reports (engine.SinkReporter): Exported is what the receiver
// took, and the exporter's losses are in Dropped (sink_error, shutdown).
// The breakdown lists the engine's own reasons and the exporter's
// separately, so that no span is counted twice.
func (r *modeReport) fillFlowtel(produced uint64, s engine.Stats, ss engine.SinkStats, xs export.Stats, rc *bench.Receiver, c *config) {
	r.Reconciled = true
	tr, lg := xs.Signals[export.Traces], xs.Signals[export.Logs]
	r.Produced = produced
	r.Exported = s.Exported
	r.SampledOut = s.SampledOut
	r.Export = &exportReport{
		Requests: tr.Requests, Retried: tr.Retried, Batches: tr.EnqueuedBatches,
		SpansPerBatch: float64(tr.Enqueued) / float64(max(tr.EnqueuedBatches, 1)),
		MeanLatencyMs: float64(tr.LatencySum.Milliseconds()) / float64(max(tr.LatencyCount, 1)),
		QueueBytes:    xs.QueueBytes,
	}
	own := s.DroppedBy
	own[engine.DropShutdown] -= min(ss.Shutdown, own[engine.DropShutdown])
	own[engine.DropSink] -= min(ss.Dropped-min(ss.Shutdown, ss.Dropped), own[engine.DropSink])
	for i, n := range own {
		r.DroppedBy["engine."+engine.DropReason(i).String()] = n
	}
	for i, n := range tr.DroppedBy {
		r.DroppedBy["exporter."+export.DropReason(i).String()] = n
	}
	r.DroppedBy["receiver.rejected"] = tr.Rejected
	r.Dropped = s.Dropped
	r.InFlight = s.InFlight
	var sum uint64
	for _, n := range r.DroppedBy {
		sum += n
	}
	r.check(produced == s.Accepted, "produced by the workload %d == engine accepted %d", produced, s.Accepted)
	r.check(s.Accepted == s.Exported+s.Dropped+s.SampledOut && s.InFlight == 0, "engine: accepted %d == delivered %d + dropped %d + sampled out %d (in flight %d), the exporter's losses included", s.Accepted, s.Exported, s.Dropped, s.SampledOut, s.InFlight)
	r.check(s.Exported == tr.Exported && ss.Dropped == tr.Rejected+tr.Dropped, "engine delivered %d == exporter exported %d, and the sink's losses %d == exporter rejected %d + dropped %d", s.Exported, tr.Exported, ss.Dropped, tr.Rejected, tr.Dropped)
	r.check(tr.Enqueued == tr.Exported+tr.Rejected+tr.Dropped && tr.InFlight == 0, "exporter traces: enqueued %d == exported %d + rejected %d + dropped %d (in flight %d)", tr.Enqueued, tr.Exported, tr.Rejected, tr.Dropped, tr.InFlight)
	r.check(produced == r.Exported+r.Dropped+r.SampledOut && sum == r.Dropped, "produced %d == exported %d + dropped %d + sampled out %d, and the reasons add up to the drops (%d)", produced, r.Exported, r.Dropped, r.SampledOut, sum)
	if c.logs {
		r.LogRecordsExported, r.LogRecordsDropped = lg.Exported, lg.Dropped+lg.Rejected
		r.check(lg.Enqueued == lg.Exported+lg.Rejected+lg.Dropped && lg.InFlight == 0, "exporter logs: enqueued %d == exported %d + rejected %d + dropped %d (in flight %d)", lg.Enqueued, lg.Exported, lg.Rejected, lg.Dropped, lg.InFlight)
	}
	if rc != nil {
		cn := rc.Counts()
		r.restarts, r.failedCalls = cn.Restarts, cn.Failed
		r.Received, r.ReceivedRootSpans = &cn.Spans, &cn.RootSpans
		r.check(cn.Spans == tr.Exported, "receiver decoded %d spans == exporter exported %d", cn.Spans, tr.Exported)
		if c.logs {
			r.LogRecordsReceived = &cn.LogRecords
			r.check(cn.LogRecords == lg.Exported, "receiver decoded %d log records == exporter exported %d", cn.LogRecords, lg.Exported)
		}
	}
}

func (r *modeReport) fillSDK(produced, exported, failed uint64, rc *bench.Receiver) {
	r.Reconciled = true
	r.Produced, r.Exported = produced, exported
	r.check(exported <= produced, "exported %d <= produced %d", exported, produced)
	r.Dropped = produced - min(exported, produced)
	r.DroppedBy["otelsdk.export_failed"] = failed
	r.DroppedBy["otelsdk.silent"] = r.Dropped - min(failed, r.Dropped)
	if rc != nil {
		cn := rc.Counts()
		r.Received, r.ReceivedRootSpans = &cn.Spans, &cn.RootSpans
		r.check(cn.Spans == exported, "receiver decoded %d spans == SDK exporter delivered %d", cn.Spans, exported)
	}
	r.check(produced == r.Exported+r.Dropped, "produced %d == exported %d + dropped %d (the SDK does not count its drops: dropped = produced - delivered)", produced, r.Exported, r.Dropped)
}

// group formats n with thousands separators.
func group(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	return b.String()
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func ns(v int64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f ms", float64(v)/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.2f µs", float64(v)/1e3)
	}
	return fmt.Sprintf("%d ns", v)
}

func writeText(w io.Writer, c *config, reps []*modeReport) {
	scale := ""
	if c.workload == workloadRealistic && c.latencyScale != 1 {
		scale = fmt.Sprintf(", node durations x %g", c.latencyScale)
	}
	fmt.Fprintf(w, "loadgen: %s workload%s, %v per mode, rate %s, at most %d runs in flight, %d nodes/run (%s), %d attrs/node, %d B payload, error rate %.3g\n",
		c.workload, scale, c.duration, rateText(c.rate), c.concurrency, c.nodes, c.shape, c.attrs, c.payload, c.errorRate)
	for _, r := range reps {
		fmt.Fprintf(w, "\n== %s -> %s (%s)\n", r.Mode, r.Endpoint, r.Protocol)
		fmt.Fprintf(w, "  runs/s            %s  (%s runs in %.1fs of load, %.1fs with the final flush)\n", group(uint64(r.RunsPerSec)), group(r.Runs), r.LoadSec, r.ElapsedSec)
		fmt.Fprintf(w, "  runs in flight    max %s, mean %s (sampled every second)\n", group(r.RunsInFlightMax), group(uint64(r.RunsInFlightMean)))
		fmt.Fprintf(w, "  spans/s delivered %s  (node spans/s %s; offered %s/s)\n", group(uint64(r.SpansPerSec)), group(uint64(r.NodeSpansPerSec)), group(uint64(r.ProducedPerSec)))
		fmt.Fprintf(w, "  produced          %s\n", group(r.Produced))
		fmt.Fprintf(w, "  exported          %s\n", group(r.Exported))
		if r.SampledOut > 0 || r.ExportedBytes > 0 {
			fmt.Fprintf(w, "  sampled out       %s spans; %s encoded (%.0f B per produced span)\n", group(r.SampledOut), mib(r.ExportedBytes), float64(r.ExportedBytes)/float64(max(r.Produced, 1)))
		}
		fmt.Fprintf(w, "  dropped           %s", group(r.Dropped))
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(r.DroppedBy)) {
			if r.DroppedBy[k] > 0 {
				parts = append(parts, fmt.Sprintf("%s %s", k, group(r.DroppedBy[k])))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "  (%s)", strings.Join(parts, ", "))
		}
		fmt.Fprintln(w)
		if r.Received != nil {
			fmt.Fprintf(w, "  received          %s\n", group(*r.Received))
		} else {
			fmt.Fprintf(w, "  received          n/a (external endpoint)\n")
		}
		if r.LogRecordsReceived != nil {
			fmt.Fprintf(w, "  run trace logs    exported %s, dropped %s, received %s\n", group(r.LogRecordsExported), group(r.LogRecordsDropped), group(*r.LogRecordsReceived))
		}
		if x := r.Export; x != nil {
			fmt.Fprintf(w, "  exporter          %s trace requests (%s retried), %.0f spans/batch, mean latency %.1f ms, queue bound %s\n", group(x.Requests), group(x.Retried), x.SpansPerBatch, x.MeanLatencyMs, mib(uint64(x.QueueBytes)))
		}
		if r.NodesRefused > 0 {
			fmt.Fprintf(w, "  nodes refused     %s (their run was refused at StartRun; counted as dropped)\n", group(r.NodesRefused))
		}
		if r.Reconciled {
			fmt.Fprintf(w, "  accounting        RECONCILED: produced == exported + dropped, and the receiver agrees\n")
		} else {
			fmt.Fprintf(w, "  accounting        DOES NOT RECONCILE\n")
		}
		for _, ch := range r.Checks {
			fmt.Fprintf(w, "    %s\n", ch)
		}
		l := r.Latency
		fmt.Fprintf(w, "  capture latency   p50 %s  p99 %s  p99.9 %s  max %s  (%s samples, the calls of one node from StartNode to End)\n", ns(l.P50), ns(l.P99), ns(l.P999), ns(l.Max), group(uint64(l.Samples)))
		fmt.Fprintf(w, "  allocations       %.2f allocs/span, %.0f B/span (whole process, embedded receiver included)\n", r.AllocsPerSpan, r.BytesPerSpan)
		fmt.Fprintf(w, "  CPU               %.0f ns/span (whole process, user and system, load and shutdown)\n", r.CPUNsPerSpan)
		fmt.Fprintf(w, "  GC                %d cycles, pauses total %.2f ms, p99 %.3f ms, max %.3f ms\n", r.GC.Cycles, r.GC.PauseTotalMs, r.GC.PauseP99Ms, r.GC.PauseMaxMs)
		peak := mib(r.PeakRSSBytes)
		if r.PeakRSSSinceStart {
			peak += " (since process start)"
		}
		if r.MemoryBound > 0 {
			peak += fmt.Sprintf(" (live-heap bound of this configuration %s: held runs x nodes x %d KiB + 4 x queue bytes + rings and arena)", mib(r.MemoryBound), nodeRecordBytes>>10)
		}
		fmt.Fprintf(w, "  peak RSS          %s\n", peak)
		fmt.Fprintf(w, "  live heap         max %s (marked by a GC, sampled every second)\n", mib(r.LiveHeapMaxBytes))
		writeBottlenecks(w, r.Bottlenecks)
	}
	if f, s := find(reps, "flowtel"), find(reps, "otelsdk-blocking"); f != nil && s != nil && s.SpansPerSec > 0 {
		fmt.Fprintf(w, "\nflowtel delivered %.1fx the spans/s of the SDK's sustainable (blocking, lossless) rate with its defaults", f.SpansPerSec/s.SpansPerSec)
		if t := find(reps, "otelsdk-tuned"); t != nil && t.SpansPerSec > 0 {
			fmt.Fprintf(w, ", %.1fx tuned (queue %d, batch %d, blocking)", f.SpansPerSec/t.SpansPerSec, sdkTunedQueue, sdkTunedBatch)
		}
		if d := find(reps, "otelsdk"); d != nil && d.Produced > 0 {
			fmt.Fprintf(w, "; the SDK's default mode lost %.1f%% of its spans", 100*float64(d.Dropped)/float64(d.Produced))
		}
		fmt.Fprintln(w)
	}
}

func rateText(r float64) string {
	if r == 0 {
		return "unbounded"
	}
	return fmt.Sprintf("%g runs/s", r)
}

func find(reps []*modeReport, mode string) *modeReport {
	for _, r := range reps {
		if r.Mode == mode {
			return r
		}
	}
	return nil
}

// writeJSON prints one JSON object: the mode's report, or {"modes": {...}}
// with the ratio when several modes ran.
func writeJSON(w io.Writer, c *config, reps []*modeReport) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if len(reps) == 1 {
		return enc.Encode(reps[0])
	}
	out := struct {
		Modes map[string]*modeReport `json:"modes"`
		// RatioVsSDKBlocking is flowtel's delivered spans/s over the SDK's
		// blocking (lossless) mode's, when both ran.
		RatioVsSDKBlocking *float64 `json:"ratio_flowtel_vs_otelsdk_blocking,omitempty"`
		// RatioVsSDKTuned is the same over the tuned SDK's (larger queue
		// and batches, blocking).
		RatioVsSDKTuned *float64 `json:"ratio_flowtel_vs_otelsdk_tuned,omitempty"`
	}{Modes: map[string]*modeReport{}}
	for _, r := range reps {
		out.Modes[r.Mode] = r
	}
	if f, s := find(reps, "flowtel"), find(reps, "otelsdk-blocking"); f != nil && s != nil && s.SpansPerSec > 0 {
		x := f.SpansPerSec / s.SpansPerSec
		out.RatioVsSDKBlocking = &x
	}
	if f, s := find(reps, "flowtel"), find(reps, "otelsdk-tuned"); f != nil && s != nil && s.SpansPerSec > 0 {
		x := f.SpansPerSec / s.SpansPerSec
		out.RatioVsSDKTuned = &x
	}
	return enc.Encode(out)
}
