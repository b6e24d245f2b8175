#!/usr/bin/env bash
# End-to-end tests against real backends on loopback:
#   1. Jaeger v2 (built from tools/jaeger, cached in $BIN): traces over OTLP/gRPC and OTLP/HTTP.
#   2. Prometheus and the OpenTelemetry Collector (scripts/e2e-prometheus.sh): metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-$HOME/.cache/flowtel-bin}
mkdir -p "$BIN"
LOGDIR=$(mktemp -d)

if [ ! -x "$BIN/jaeger" ]; then
	echo "e2e: building Jaeger v2 (a cold build takes several minutes)"
	(cd tools/jaeger && go build -o "$BIN/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger)
fi

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

OTEL_TRACES_EXPORTER=none "$BIN/jaeger" --config=file:deploy/jaeger/config.yaml >"$LOGDIR/jaeger.log" 2>&1 &
pids+=($!)
for i in $(seq 1 60); do
	if curl -sf http://127.0.0.1:13134/status >/dev/null; then break; fi
	if [ "$i" = 60 ]; then echo "e2e: Jaeger did not become healthy"; cat "$LOGDIR/jaeger.log"; exit 1; fi
	sleep 0.5
done
echo "e2e: Jaeger is up"
go test -tags e2e -count=1 -run 'TestJaeger' -v ./e2e/ 2>&1 | tee "$LOGDIR/jaeger-test.log" | grep -E '^(=== RUN|--- |PASS|FAIL|ok)' || true
grep -q '^ok' "$LOGDIR/jaeger-test.log" || { echo "e2e: Jaeger test failed"; cat "$LOGDIR/jaeger-test.log"; exit 1; }
(cd examples/eino-agent && go test -tags e2e -count=1 -run 'TestJaegerEino' -v .) >"$LOGDIR/eino-test.log" 2>&1 || { echo "e2e: Eino example into Jaeger failed"; cat "$LOGDIR/eino-test.log"; exit 1; }
echo "e2e: the Eino example's traces read back from Jaeger"
cleanup
pids=()

if [ -x scripts/e2e-prometheus.sh ]; then
	scripts/e2e-prometheus.sh
fi
echo "e2e: all passed"
