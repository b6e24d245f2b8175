#!/usr/bin/env bash
# perf.sh reproduces every number in PERFORMANCE.md: the machine, the
# BenchmarkCompare benchstat table, the loadgen comparison with the OTel Go
# SDK (and the latency plot docs/latency.svg), the scaling tables (nodes per
# run, attributes per node, payload, runs in flight), the maximum rate and
# the zero-drop check at half of it (64 and 10,000 runs in flight), memory
# and capture latency of the realistic workload at 10,000 and 100,000 runs
# in flight, and a short soak. Peak throughput is measured with the
# synthetic workload (nodes that take no time); the loadgen's default is
# the realistic one.
#
#   scripts/perf.sh                 # everything, about 10 minutes on 2 vCPUs
#   COUNT=10 DUR=20s scripts/perf.sh
#
# Results go to $OUT (default $TMPDIR/flowtel-perf): raw outputs and results.md, the
# tables PERFORMANCE.md quotes.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-6}           # benchmark repetitions for benchstat
BENCHTIME=${BENCHTIME:-1s}
DUR=${DUR:-10s}             # loadgen duration of the comparison and max-rate runs
SCAN_DUR=${SCAN_DUR:-5s}    # loadgen duration of each scaling run
SOAK=${SOAK:-60s}
REAL_DUR=${REAL_DUR:-20s}       # realistic workload, 10,000 runs in flight
REAL100_DUR=${REAL100_DUR:-60s} # realistic workload, 100,000 runs in flight (runs of ~20 s)
REPS=${REPS:-3}             # runs of each headline loadgen measurement (median kept)
OUT=${OUT:-${TMPDIR:-/tmp}/flowtel-perf}
BIN=${BIN:-$HOME/.cache/flowtel-bin}
mkdir -p "$OUT" docs
RES="$OUT/results.md"
: >"$RES"

say() { printf '%s\n' "$*" | tee -a "$RES"; }

# cmd/loadgen/default.pgo (a profile of flowtel and SDK modes) makes go
# build optimise with PGO; a second binary without it shows its share.
go build -o "$OUT/loadgen" ./cmd/loadgen
go build -pgo=off -o "$OUT/loadgen-nopgo" ./cmd/loadgen
LG="$OUT/loadgen"

# Machine.
say "## Machine"
say ""
say "- nproc: $(nproc)"
say "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
say "- $(go version)"
say "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (shared machine)"
say "- date: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
say ""

# BenchmarkCompare.
say "## BenchmarkCompare (go test -bench Compare -count $COUNT -benchtime $BENCHTIME ./bench/)"
say ""
go test -run '^$' -bench '^BenchmarkCompare$' -benchmem -count "$COUNT" -benchtime "$BENCHTIME" ./bench/ | tee "$OUT/bench.txt" >/dev/null
if [ -x "$BIN/benchstat" ]; then
	say '```'
	"$BIN/benchstat" "$OUT/bench.txt" | tee -a "$RES" >/dev/null
	say '```'
else
	say "(benchstat not found at $BIN/benchstat; run make tools)"
fi
say ""

# Comparison with the SDK, and the plot. The SDK exports spans only, so
# the like-for-like run is flowtel's traces without the run trace logs
# (-logs=false); both are lossless (-block, and the SDK's WithBlocking) and
# unbounded (-rate 0), in the same process run, minutes apart.
hdr='| run | delivered spans/s | node spans/s | offered spans/s | produced | dropped | dropped % | received | capture p50 | p99 | p99.9 | allocs/span | CPU ns/span | peak RSS MiB |'
sep='|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
line='"| \($l) | \(.spans_per_sec|floor) | \(.node_spans_per_sec|floor) | \(.produced_per_sec|floor) | \(.produced) | \(.dropped) | \((100*.dropped/.produced*10|floor)/10) | \(.received) | \(.capture_latency_ns.p50) ns | \(.capture_latency_ns.p99) ns | \(.capture_latency_ns.p99_9) ns | \((.allocs_per_span*100|floor)/100) | \($cpu) | \(.peak_rss_bytes/1048576|floor) |"'
# timed runs loadgen with $@, writes its JSON to $OUT/$name.json and the
# process's CPU nanoseconds per delivered span to $OUT/$name.cpu.
timed() {
	local name=$1
	shift
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%U %S' -o "$OUT/$name.time" "$@" -json -progress=false >"$OUT/$name.json"
		jq -r --argjson t "$(awk '{print $1+$2}' "$OUT/$name.time" | tail -1)" 'if .exported then $t*1e9/.exported|floor else "n/a" end' "$OUT/$name.json" >"$OUT/$name.cpu"
	else
		"$@" -json -progress=false >"$OUT/$name.json"
		echo "n/a (no /usr/bin/time)" >"$OUT/$name.cpu"
	fi
}
# median runs timed $REPS times and keeps the run of median delivered rate
# as $OUT/$name.json: the machine is shared, and single runs vary by tens
# of percent.
median() {
	local name=$1
	shift
	for i in $(seq "$REPS"); do
		timed "$name-$i" "$@"
	done
	local pick
	pick=$(for i in $(seq "$REPS"); do echo "$(jq '.spans_per_sec|floor' "$OUT/$name-$i.json") $i"; done | sort -n | awk -v m=$(((REPS + 1) / 2)) 'NR==m{print $2}')
	cp "$OUT/$name-$pick.json" "$OUT/$name.json"
	cp "$OUT/$name-$pick.cpu" "$OUT/$name.cpu"
	say "- $name: delivered spans/s of the $REPS runs: $(for i in $(seq "$REPS"); do jq -r '.spans_per_sec|floor' "$OUT/$name-$i.json"; done | paste -sd' ') (median kept)"
}
rowof() { # $1 label, $2 name
	jq -r --arg l "$1" --arg cpu "$(cat "$OUT/$2.cpu")" "$line" "$OUT/$2.json"
}

say "## loadgen: flowtel and the OpenTelemetry Go SDK (-workload synthetic -mode both -block -rate 0 -logs=false -duration $DUR)"
say ""
timed both "$LG" -workload synthetic -mode both -block -rate 0 -logs=false -duration "$DUR" -plot docs/latency.svg
say "$hdr"
say "$sep"
for m in flowtel otelsdk otelsdk-blocking; do
	jq -r --arg l "$m" --arg cpu "(whole run)" ".modes[\"$m\"] | $line" "$OUT/both.json" | tee -a "$RES" >/dev/null
done
say ""
sdk=$(jq '.modes["otelsdk-blocking"].spans_per_sec' "$OUT/both.json")
say "- flowtel -block / SDK blocking, delivered spans/s, same run: $(jq '.modes.flowtel.spans_per_sec' "$OUT/both.json") / $sdk = $(jq --argjson s "$sdk" '.modes.flowtel.spans_per_sec/$s*10|floor/10' "$OUT/both.json")x"
say ""

say "## loadgen: flowtel alone, lossless and unbounded ($REPS runs of $DUR each, median)"
say ""
median traces "$LG" -workload synthetic -block -rate 0 -logs=false -duration "$DUR"
median traces-logs "$LG" -workload synthetic -block -rate 0 -duration "$DUR"
median traces-nopgo "$OUT/loadgen-nopgo" -workload synthetic -block -rate 0 -logs=false -duration "$DUR"
timed overload "$LG" -workload synthetic -rate 0 -duration "$DUR"
say ""
say "$hdr"
say "$sep"
rowof "traces (-block -logs=false)" traces | tee -a "$RES" >/dev/null
rowof "traces and run trace logs (-block)" traces-logs | tee -a "$RES" >/dev/null
rowof "traces, binary built without PGO (-block -logs=false)" traces-nopgo | tee -a "$RES" >/dev/null
rowof "overload, default drop policy (-rate 0)" overload | tee -a "$RES" >/dev/null
say ""
say "- traces (median) / SDK blocking of the comparison above: $(jq --argjson s "$sdk" '.spans_per_sec/$s*10|floor/10' "$OUT/traces.json")x"
say ""

# Scaling: one flag at a time, flowtel, unbounded rate.
row() { # $1 label, $2 json file
	jq -r --arg l "$1" '"| \($l) | \(.spans_per_sec|floor) | \(.node_spans_per_sec|floor) | \((100*.dropped/.produced*10|floor)/10) | \(.capture_latency_ns.p50) | \(.capture_latency_ns.p99) | \(.capture_latency_ns.p99_9) | \((.allocs_per_span*100|floor)/100) | \(.peak_rss_bytes/1048576|floor) |"' "$2"
}
scan() { # $1 flag, $2.. values; runs are lossless (-block): delivered = sustainable
	local flag=$1
	shift
	say "### -$flag (flowtel -block, $SCAN_DUR each, other flags default)"
	say ""
	say "| -$flag | delivered spans/s | node spans/s | dropped % | capture p50 ns | p99 ns | p99.9 ns | allocs/span | peak RSS MiB |"
	say "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	for v in "$@"; do
		local extra=()
		if [ "$flag" = nodes ]; then
			# Keep ring slots x nodes per run at most 32768 nodes per shard, so
			# that 1,000-node runs do not hold gigabytes in full rings.
			local ring=64
			while [ $((ring * v)) -gt 32768 ] && [ "$ring" -gt 16 ]; do ring=$((ring / 2)); done
			extra=(-ring "$ring")
		fi
		"$LG" -workload synthetic -block -rate 0 -"$flag"="$v" "${extra[@]}" -duration "$SCAN_DUR" -json -progress=false >"$OUT/scan-$flag-$v.json"
		row "$v${extra[1]:+ (ring ${extra[1]})}" "$OUT/scan-$flag-$v.json" | tee -a "$RES" >/dev/null
	done
	say ""
}
say "## Scaling"
say ""
say "Each run is lossless (-block: the caller waits for room instead of dropping), so the"
say "delivered rate is the sustainable one for that shape, and capture latency includes"
say "those waits when the pipeline is the bottleneck."
say ""
scan nodes 1 10 100 1000
scan attrs 0 8 32 64
scan payload 0 256 4096 65536
scan concurrency 1 100 1000 10000

# Memory: peak RSS against the ring size, with the rings kept full (-block
# and unbounded load is the worst case: every slot of every shard holds an
# ended run waiting for the pipeline).
say "## Memory bound (-block, unbounded load, $SCAN_DUR each)"
say ""
say "| -ring (slots per shard) | -queue-bytes | delivered spans/s | peak RSS MiB | GC cycles |"
say "|---:|---:|---:|---:|---:|"
for ring in 64 1024 4096; do
	for qb in 16777216 67108864; do
		"$LG" -workload synthetic -block -rate 0 -ring "$ring" -queue-bytes "$qb" -duration "$SCAN_DUR" -json -progress=false >"$OUT/mem-$ring-$qb.json"
		jq -r --arg r "$ring" --arg q "$((qb >> 20)) MiB" '"| \($r) | \($q) | \(.spans_per_sec|floor) | \(.peak_rss_bytes/1048576|floor) | \(.gc.cycles) |"' "$OUT/mem-$ring-$qb.json" | tee -a "$RES" >/dev/null
	done
done
say ""

# Maximum rate: the lossless (-block) delivered rate of the synthetic
# workload, run logs included, measured above. Half of it, offered at a
# steady rate (after the default 1 s ramp) with the default drop policy,
# must drop nothing.
say "## Half the maximum rate, default drop policy ($DUR)"
say ""
spr=$(jq '.produced/.runs' "$OUT/traces-logs.json")
max=$(jq '.runs_per_sec|floor' "$OUT/traces-logs.json")
half=$((max / 2))
say "| run | -rate runs/s | delivered spans/s | node spans/s | produced | dropped | received | peak RSS MiB |"
say "|---|---:|---:|---:|---:|---:|---:|---:|"
# 10,000 runs in flight is where bursts of run ends once overflowed rings
# sized by hand: one worker advances them together, so they end together.
for conc in 64 10000; do
	"$LG" -workload synthetic -concurrency "$conc" -duration "$DUR" -rate "$half" -json -progress=false >"$OUT/half-$conc.json"
	jq -r --arg r "$half" --arg c "$conc" '"| half of the maximum, \($c) runs in flight | \($r) | \(.spans_per_sec|floor) | \(.node_spans_per_sec|floor) | \(.produced) | \(.dropped) | \(.received) | \(.peak_rss_bytes/1048576|floor) |"' "$OUT/half-$conc.json" | tee -a "$RES" >/dev/null
done
say ""
say "- maximum (lossless, -block, run logs on): $max runs/s ($(jq --argjson r "$max" --argjson spr "$spr" -n '$r*$spr|floor') spans/s)"
say ""

# The realistic workload (the loadgen's default): nodes take as long as
# real ones, so runs in flight = rate x run duration. 100,000 in flight at
# the same rate takes runs ten times as long (-latency-scale 10).
say "## Realistic workload: memory and capture latency by runs in flight"
say ""
say "| runs in flight (max / mean) | runs/s | delivered spans/s | dropped | capture p50 ns | p99 ns | p99.9 ns | live heap max MiB | peak RSS MiB | GC cycles |"
say "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
real() { # $1 name, rest: flags
	local name=$1
	shift
	"$LG" "$@" -json -progress=false >"$OUT/$name.json"
	jq -r '"| \(.runs_in_flight_max) / \(.runs_in_flight_mean|floor) | \(.runs_per_sec|floor) | \(.spans_per_sec|floor) | \(.dropped) | \(.capture_latency_ns.p50) | \(.capture_latency_ns.p99) | \(.capture_latency_ns.p99_9) | \(.live_heap_max_bytes/1048576|floor) | \(.peak_rss_bytes/1048576|floor) | \(.gc.cycles) |"' "$OUT/$name.json" | tee -a "$RES" >/dev/null
}
real realistic-10k -duration "$REAL_DUR"
real realistic-100k -concurrency 100000 -latency-scale 10 -duration "$REAL100_DUR"
say ""

# Short soak.
say "## Soak ($SOAK)"
say ""
if "$LG" -workload synthetic -soak -duration "$SOAK" -json -progress=false >"$OUT/soak.json" 2>"$OUT/soak.err"; then
	status=PASS
else
	status=FAIL
fi
jq -r --arg s "$status" '"- result: \($s); rate \(.soak.rate_runs_per_sec|floor) runs/s (80% of measured capacity \(.soak.capacity_runs_per_sec|floor)); receiver failed \(.soak.receiver_failed_calls) calls, restarted \(.soak.receiver_restarts) times\n- produced \(.produced), exported \(.exported), dropped \(.dropped) \(.dropped_by|to_entries|map(select(.value>0))|map("\(.key) \(.value)")|join(", ")), received \(.received), reconciled \(.reconciled)\n- RSS: baseline \(.soak.baseline_rss_bytes/1048576|floor) MiB, warm-up max \(.soak.warmup_max_rss_bytes/1048576|floor) MiB, max \(.soak.max_rss_bytes/1048576|floor) MiB; live-heap bound \(.soak.memory_bound_bytes/1048576|floor) MiB, RSS ceiling \(.soak.rss_ceiling_bytes/1048576|floor) MiB; live heap max \(.soak.max_live_heap_bytes/1048576|floor) MiB, 2nd quarter max \(.soak.second_quarter_max_live_heap_bytes/1048576|floor) MiB, last quarter max \(.soak.last_quarter_max_live_heap_bytes/1048576|floor) MiB (plateau ceiling \(.soak.live_heap_plateau_ceiling_bytes/1048576|floor) MiB); goroutines max \(.soak.max_goroutines) (ceiling \(.soak.goroutine_ceiling))"' "$OUT/soak.json" | tee -a "$RES" >/dev/null
say ""
echo "results in $RES; plot in docs/latency.svg"
