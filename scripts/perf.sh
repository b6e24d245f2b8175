#!/usr/bin/env bash
# perf.sh reproduces every number in PERFORMANCE.md: the machine, the
# BenchmarkCompare benchstat table, the loadgen comparison with the OTel Go
# SDK (and the latency plot docs/latency.svg), the scaling tables (nodes per
# run, attributes per node, payload, runs in flight), the maximum rate and
# the zero-drop check at half of it, and a short soak.
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
OUT=${OUT:-${TMPDIR:-/tmp}/flowtel-perf}
BIN=${BIN:-$HOME/.cache/flowtel-bin}
mkdir -p "$OUT" docs
RES="$OUT/results.md"
: >"$RES"

say() { printf '%s\n' "$*" | tee -a "$RES"; }

go build -o "$OUT/loadgen" ./cmd/loadgen
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

# Comparison with the SDK, and the plot.
say "## loadgen -mode both -duration $DUR"
say ""
"$LG" -mode both -rate 0 -duration "$DUR" -json -progress=false -plot docs/latency.svg >"$OUT/both.json"
say "| mode | delivered spans/s | node spans/s | offered spans/s | produced | dropped | dropped % | received | capture p50 | p99 | p99.9 | allocs/span | peak RSS MiB |"
say "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
jq -r '.modes | to_entries[] | .value | "| \(.mode) | \(.spans_per_sec|floor) | \(.node_spans_per_sec|floor) | \(.produced_per_sec|floor) | \(.produced) | \(.dropped) | \((100*.dropped/.produced*10|floor)/10) | \(.received) | \(.capture_latency_ns.p50) ns | \(.capture_latency_ns.p99) ns | \(.capture_latency_ns.p99_9) ns | \((.allocs_per_span*100|floor)/100) | \(.peak_rss_bytes/1048576|floor) |"' "$OUT/both.json" | tee -a "$RES" >/dev/null
"$LG" -block -rate 0 -duration "$DUR" -json -progress=false >"$OUT/flowtel-block.json"
jq -r '"| flowtel -block | \(.spans_per_sec|floor) | \(.node_spans_per_sec|floor) | \(.produced_per_sec|floor) | \(.produced) | \(.dropped) | \((100*.dropped/.produced*10|floor)/10) | \(.received) | \(.capture_latency_ns.p50) ns | \(.capture_latency_ns.p99) ns | \(.capture_latency_ns.p99_9) ns | \((.allocs_per_span*100|floor)/100) | \(.peak_rss_bytes/1048576|floor) |"' "$OUT/flowtel-block.json" | tee -a "$RES" >/dev/null
say ""
sdk=$(jq '.modes["otelsdk-blocking"].spans_per_sec' "$OUT/both.json")
say "- flowtel (drop policy) / SDK blocking, delivered spans/s: $(jq '.ratio_flowtel_vs_otelsdk_blocking*10|floor/10' "$OUT/both.json")"
say "- flowtel -block / SDK blocking (both lossless under unbounded offered load): $(jq --argjson s "$sdk" '.spans_per_sec/$s*10|floor/10' "$OUT/flowtel-block.json")"
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
			# Keep ring slots x nodes per run near 32768 nodes per shard, so
			# that 1,000-node runs do not hold gigabytes in full rings.
			local ring=4096
			while [ $((ring * v)) -gt 32768 ] && [ "$ring" -gt 16 ]; do ring=$((ring / 2)); done
			extra=(-ring "$ring")
		fi
		"$LG" -block -rate 0 -"$flag"="$v" "${extra[@]}" -duration "$SCAN_DUR" -json -progress=false >"$OUT/scan-$flag-$v.json"
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
for ring in 256 1024 4096; do
	for qb in 16777216 67108864; do
		"$LG" -block -rate 0 -ring "$ring" -queue-bytes "$qb" -duration "$SCAN_DUR" -json -progress=false >"$OUT/mem-$ring-$qb.json"
		jq -r --arg r "$ring" --arg q "$((qb >> 20)) MiB" '"| \($r) | \($q) | \(.spans_per_sec|floor) | \(.peak_rss_bytes/1048576|floor) | \(.gc.cycles) |"' "$OUT/mem-$ring-$qb.json" | tee -a "$RES" >/dev/null
	done
done
say ""

# Maximum rate: start from the lossless (-block) delivered rate and raise
# -rate by 25 % while nothing is dropped; the last lossless rate is the
# maximum. Then zero drops at half of it, for $DUR.
say "## Maximum lossless rate (default drop policy) and half of it"
say ""
say "| run | -rate runs/s | delivered spans/s | node spans/s | produced | dropped | received |"
say "|---|---:|---:|---:|---:|---:|---:|"
spr=$(jq '.produced/.runs' "$OUT/flowtel-block.json")
rate=$(jq --argjson spr "$spr" '.spans_per_sec/$spr*0.8|floor' "$OUT/flowtel-block.json")
best=0
for i in 1 2 3 4 5 6 7 8; do
	"$LG" -duration "$SCAN_DUR" -rate "$rate" -json -progress=false >"$OUT/rate-$rate.json"
	jq -r --arg r "$rate" '"| search | \($r) | \(.spans_per_sec|floor) | \(.node_spans_per_sec|floor) | \(.produced) | \(.dropped) | \(.received) |"' "$OUT/rate-$rate.json" | tee -a "$RES" >/dev/null
	# A drop, or a rate the generator cannot reach, ends the search (or,
	# before any lossless rate was found, halves the rate).
	if [ "$(jq --argjson r "$rate" '.dropped > 0 or .runs_per_sec < 0.95*$r' "$OUT/rate-$rate.json")" = true ]; then
		if [ "$best" -gt 0 ]; then break; fi
		rate=$((rate / 2))
		continue
	fi
	best=$rate
	rate=$((rate * 5 / 4))
done
half=$((best / 2))
if [ "$half" -gt 0 ]; then
	"$LG" -duration "$DUR" -rate "$half" -json -progress=false >"$OUT/half.json"
	jq -r --arg r "$half" '"| half of max lossless | \($r) | \(.spans_per_sec|floor) | \(.node_spans_per_sec|floor) | \(.produced) | \(.dropped) | \(.received) |"' "$OUT/half.json" | tee -a "$RES" >/dev/null
fi
say ""
say "- maximum lossless rate: $best runs/s ($(jq --argjson r "$best" --argjson spr "$spr" -n '$r*$spr|floor') spans/s offered)"
if [ -f "$OUT/rate-$best.json" ]; then
	say "- its delivered spans/s over the SDK's (blocking) in the comparison above: $(jq --argjson s "$sdk" '.spans_per_sec/$s*10|floor/10' "$OUT/rate-$best.json")x"
fi
say ""

# Short soak.
say "## Soak ($SOAK)"
say ""
if "$LG" -soak -duration "$SOAK" -json -progress=false >"$OUT/soak.json" 2>"$OUT/soak.err"; then
	status=PASS
else
	status=FAIL
fi
jq -r --arg s "$status" '"- result: \($s); rate \(.soak.rate_runs_per_sec|floor) runs/s (80% of measured capacity \(.soak.capacity_runs_per_sec|floor)); receiver failed \(.soak.receiver_failed_calls) calls, restarted \(.soak.receiver_restarts) times\n- produced \(.produced), exported \(.exported), dropped \(.dropped) \(.dropped_by|to_entries|map(select(.value>0))|map("\(.key) \(.value)")|join(", ")), received \(.received), reconciled \(.reconciled)\n- RSS: baseline \(.soak.baseline_rss_bytes/1048576|floor) MiB, warm-up max \(.soak.warmup_max_rss_bytes/1048576|floor) MiB, max \(.soak.max_rss_bytes/1048576|floor) MiB; live-heap bound \(.soak.memory_bound_bytes/1048576|floor) MiB, RSS ceiling \(.soak.rss_ceiling_bytes/1048576|floor) MiB, plateau ceiling \(.soak.rss_plateau_ceiling_bytes/1048576|floor) MiB; goroutines max \(.soak.max_goroutines) (ceiling \(.soak.goroutine_ceiling))"' "$OUT/soak.json" | tee -a "$RES" >/dev/null
say ""
echo "results in $RES; plot in docs/latency.svg"
