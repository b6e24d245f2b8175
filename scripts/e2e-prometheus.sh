#!/usr/bin/env bash
# e2e-prometheus.sh: start a real Prometheus (Debian's, loopback only) that
# scrapes a /metrics target and accepts remote write, and the OpenTelemetry
# Collector of tools/otelcol that remote-writes OTLP metrics into it; wait
# until both are ready; run a command; stop everything.
#
# usage: scripts/e2e-prometheus.sh [-t HOST:PORT] [-- COMMAND [ARGS...]]
#   -t  the /metrics target Prometheus scrapes as job flowtel_scrape
#       (default 127.0.0.1:9464)
# Without a command it runs the e2e test e2e/prometheus_test.go
# (TestPrometheus): an engine exporting OTLP metrics to the collector and
# serving /metrics on the target, a short load, then every dashboard and
# alert expression checked on both paths (scrape and remote write).
# The command runs with FLOWTEL_PROM_URL=http://127.0.0.1:9090,
# OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 and
# FLOWTEL_METRICS_ADDR=<target> in its environment, e.g.
#   scripts/e2e-prometheus.sh -- sh -c 'loadgen ... && sleep 20 &&
#     go test -count=1 ./deploy/grafana/queries_test/'
# Needs: prometheus (apt-get install prometheus); the collector is built
# into $OTELCOL (default $BIN/otelcol, $BIN being $HOME/.cache/flowtel-bin
# unless set, as in scripts/e2e.sh) if missing.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=127.0.0.1:9464
loadgen_target=127.0.0.1:9465
while getopts "t:" opt; do
	case $opt in
	t) target=$OPTARG ;;
	*) echo "usage: $0 [-t HOST:PORT] [-- COMMAND...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
if [ $# -eq 0 ]; then
	set -- go test -tags e2e -count=1 -run '^TestPrometheus$' -v "$root/e2e/"
fi

otelcol=${OTELCOL:-${BIN:-$HOME/.cache/flowtel-bin}/otelcol}
command -v prometheus >/dev/null || { echo "e2e: prometheus is not installed (apt-get install -y --no-install-recommends prometheus)" >&2; exit 1; }
if [ ! -x "$otelcol" ]; then
	echo "e2e: building the collector into $otelcol (a cold build takes minutes)" >&2
	mkdir -p "$(dirname "$otelcol")"
	(cd "$root/tools/otelcol" && go build -o "$otelcol" .)
fi

work=$(mktemp -d /tmp/flowtel-e2e.XXXXXX)
pids=()
cleanup() {
	local rc=$?
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		# Bounded wait, then force.
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ $rc -ne 0 ]; then
		echo "e2e: failed ($rc); last lines of the logs:" >&2
		tail -n 20 "$work"/*.log >&2 2>/dev/null || true
	fi
	rm -rf "$work"
	exit $rc
}
trap cleanup EXIT INT TERM

# wait_http URL SECONDS: poll until URL answers 200, or fail.
wait_http() {
	local deadline=$((SECONDS + $2))
	until curl -fs -o /dev/null --max-time 2 "$1" 2>/dev/null; do
		if [ $SECONDS -ge $deadline ]; then
			echo "e2e: $1 not ready after $2 s" >&2
			return 1
		fi
		sleep 0.5
	done
}

cat >"$work/prometheus.yml" <<CFG
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $root/deploy/prometheus/alerts.yml
scrape_configs:
  - job_name: flowtel_scrape
    static_configs:
      - targets: ['$target']
  - job_name: flowtel_loadgen
    static_configs:
      - targets: ['$loadgen_target']
CFG

prometheus --config.file="$work/prometheus.yml" \
	--storage.tsdb.path="$work/data" \
	--web.listen-address=127.0.0.1:9090 \
	--web.enable-remote-write-receiver \
	--log.level=warn >"$work/prometheus.log" 2>&1 &
pids+=($!)
FLOWTEL_OTELCOL_FILE="$work/otelcol.jsonl" "$otelcol" --config="$root/tools/otelcol/config.yaml" >"$work/otelcol.log" 2>&1 &
pids+=($!)

wait_http http://127.0.0.1:9090/-/ready 60
# The collector is ready once its OTLP/HTTP port accepts a request.
deadline=$((SECONDS + 60))
until curl -s -o /dev/null --max-time 2 -X POST -H 'Content-Type: application/json' -d '{}' http://127.0.0.1:4318/v1/metrics; do
	[ $SECONDS -lt $deadline ] || { echo "e2e: collector not ready after 60 s" >&2; exit 1; }
	sleep 0.5
done
echo "e2e: prometheus on 127.0.0.1:9090 (scraping $target), collector on 127.0.0.1:4317/4318" >&2

# The load generator, with its own embedded receiver, serves its engine's
# /metrics for the scrape path (job flowtel_loadgen). It stops by itself.
(cd "$root" && go build -o "$work/loadgen" ./cmd/loadgen)
"$work/loadgen" -duration 150s -rate 2000 -error-rate 0.05 -progress=false \
	-metrics-addr "$loadgen_target" >"$work/loadgen.log" 2>&1 &
pids+=($!)
echo "e2e: load generator serving /metrics on $loadgen_target" >&2

FLOWTEL_PROM_URL=http://127.0.0.1:9090 OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317 \
	FLOWTEL_OTLP_GRPC=127.0.0.1:4317 FLOWTEL_METRICS_ADDR="$target" FLOWTEL_LOADGEN_JOB=flowtel_loadgen "$@"
