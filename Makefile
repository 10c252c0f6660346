# outlookflow — the two commands a newcomer needs are `make demo` and `make test`.
# Everything they need is installed from the project's own files into .bin/.

SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/.bin

# Temporal CLI (dev server + Web UI). v1.5.1 is the newest version that
# `go install` can build (later ones carry replace directives).
TEMPORAL_CLI_VERSION := v1.5.1
TEMPORAL             := $(BIN)/temporal

# msgraph-sdk-go is huge (a cold compile peaks at ~4.4 GB); two parallel
# compile jobs keep a 2-core machine responsive without slowing the build.
export GOFLAGS ?= -p=2

.PHONY: help tools build test unit vet fmt-check workflowcheck demo temporal bench clean

help:
	@echo "make demo   - run the demo: Temporal dev server + Web UI, Graph simulator, worker, demo tenant"
	@echo "make test   - vet, workflowcheck and every test (installs the Temporal CLI first)"
	@echo "make build  - build worker, starter and graphsim into .bin/"
	@echo "make tools  - install the Temporal CLI $(TEMPORAL_CLI_VERSION) into .bin/"

tools: $(TEMPORAL)

$(TEMPORAL):
	@mkdir -p $(BIN)
	@echo "Installing Temporal CLI $(TEMPORAL_CLI_VERSION) into $(BIN) (a few minutes the first time)..."
	GOBIN=$(BIN) $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

build:
	$(GO) build -o $(BIN)/outlookflow-worker ./worker
	$(GO) build -o $(BIN)/starter ./starter
	$(GO) build -o $(BIN)/graphsim ./graphsim/cmd/graphsim

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.bin/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

workflowcheck:
	$(GO) tool workflowcheck ./workflows/...

test: tools fmt-check vet workflowcheck
	$(GO) test -count=1 -race ./...

demo: tools build
	./scripts/demo.sh

# A dev server alone, with outlookflow's search attributes (Web UI on :8233).
temporal: tools
	$(TEMPORAL) server start-dev --ip 127.0.0.1 --port 7233 --ui-port 8233 \
		--search-attribute OutlookflowTenant=Keyword --search-attribute OutlookflowConnectionStatus=Keyword

clean:
	rm -rf .demo .graphsim
