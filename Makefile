# outlookflow — the two commands a newcomer needs are `make demo` and `make test`.
# Everything they need is installed from the project's own files into .bin/.

SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/.bin

# Temporal CLI (dev server + Web UI). v1.5.1 is the newest version that
# `go install` can build (later ones carry replace directives).
TEMPORAL_CLI_VERSION := v1.5.1
TEMPORAL             := $(BIN)/temporal

# staticcheck, pinned; the version is in the file name so a bump reinstalls.
# v0.8.2 (2026.1.x) is the release that understands Go 1.26.
STATICCHECK_VERSION := v0.8.2
STATICCHECK         := $(BIN)/staticcheck-$(STATICCHECK_VERSION)

# msgraph-sdk-go is huge (a cold compile peaks at ~4.4 GB); two parallel
# compile jobs keep a 2-core machine responsive without slowing the build.
export GOFLAGS ?= -p=2

.PHONY: help tools postgres build test vet fmt-check staticcheck workflowcheck demo temporal bench clean

help:
	@echo "make demo   - run the demo: Temporal dev server + Web UI, Graph simulator, worker, demo tenant"
	@echo "make test   - gofmt, vet, staticcheck, workflowcheck and every test (installs the Temporal CLI and staticcheck first)"
	@echo "make build  - build worker, starter and graphsim into .bin/"
	@echo "make bench  - benchmarks: sync vs a no-Temporal floor and a naive loop, recipe runs/s vs bare Temporal, trigger latency; table + \$$BENCH_OUT (default bench/results.json)"
	@echo "make tools  - install the Temporal CLI $(TEMPORAL_CLI_VERSION) and staticcheck $(STATICCHECK_VERSION) into .bin/"

tools: $(TEMPORAL) $(STATICCHECK)

# PostgreSQL server binaries for the store's tests (Debian's package, only
# when missing; the tests start a throwaway server of their own).
postgres:
	@./scripts/ensure-postgres.sh

$(TEMPORAL):
	@mkdir -p $(BIN)
	@echo "Installing Temporal CLI $(TEMPORAL_CLI_VERSION) into $(BIN) (a few minutes the first time)..."
	GOBIN=$(BIN) $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

$(STATICCHECK):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv $(BIN)/staticcheck $@

build:
	$(GO) build -o $(BIN)/outlookflow-worker ./worker
	$(GO) build -o $(BIN)/starter ./starter
	$(GO) build -o $(BIN)/graphsim ./graphsim/cmd/graphsim

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.bin/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./...

workflowcheck:
	$(GO) tool workflowcheck ./workflows/...

test: tools postgres fmt-check vet staticcheck workflowcheck
	$(GO) test -count=1 -race -timeout 30m ./...

demo: tools build
	./scripts/demo.sh

# Benchmarks (bench/): the sync side by side with a floor (same adapter and
# store, no Temporal) and a naive script loop; recipe runs/s against a bare
# two-activity Temporal workflow; polling trigger latency. All on the Graph
# simulator and one dev server. BENCH_SCALE=small for a quick run; the JSON
# goes to BENCH_OUT. Missed targets are reported, errors fail.
BENCH_OUT   ?= bench/results.json
BENCH_SCALE ?= full
BENCH_FLAGS ?=

bench: $(TEMPORAL)
	$(GO) build -o $(BIN)/bench ./bench
	BENCH_OUT=$(BENCH_OUT) BENCH_SCALE=$(BENCH_SCALE) $(BIN)/bench $(BENCH_FLAGS)

# A dev server alone, with outlookflow's search attributes (Web UI on :8233).
temporal: $(TEMPORAL)
	$(TEMPORAL) server start-dev --ip 127.0.0.1 --port 7233 --ui-port 8233 \
		--search-attribute OutlookflowTenant=Keyword --search-attribute OutlookflowConnectionStatus=Keyword \
		--search-attribute OutlookflowSyncKind=Keyword \
		--search-attribute OutlookflowRecipe=Keyword --search-attribute OutlookflowRunStatus=Keyword

clean:
	rm -rf .demo .graphsim
