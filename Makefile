# flowtel developer targets. `make test` is what CI runs first.
GO        ?= go
BIN       ?= $(HOME)/.cache/flowtel-bin
PKGS      := ./...
FUZZTIME  ?= 60s
BENCHTIME ?= 1s
COUNT     ?= 6

.PHONY: test race bench fuzz fuzz-short lint e2e soak soak-short tools perf

test:
	$(GO) test -count=1 $(PKGS)

race:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

bench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) -count=$(COUNT) ./engine/ ./encode/ ./bench/ | tee bench.txt
	$(BIN)/benchstat bench.txt

# Each fuzz target runs FUZZTIME: a duration (60s) or an execution count
# (5000x, which has no wall-clock deadline to race on a loaded machine).
fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

fuzz-short:
	$(MAKE) fuzz FUZZTIME=3000x

tools:
	@mkdir -p $(BIN)
	@test -x $(BIN)/staticcheck || (cd tools/lint && $(GO) build -o $(BIN)/ honnef.co/go/tools/cmd/staticcheck)
	@test -x $(BIN)/benchstat || (cd tools/lint && $(GO) build -o $(BIN)/ golang.org/x/perf/cmd/benchstat)

lint: tools
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet $(PKGS)
	$(BIN)/staticcheck $(PKGS)

e2e:
	./scripts/e2e.sh

soak:
	$(GO) run ./cmd/loadgen -soak -duration=10m

soak-short:
	$(GO) run ./cmd/loadgen -soak -duration=60s

perf:
	./scripts/perf.sh
