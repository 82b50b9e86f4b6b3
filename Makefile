# Rampart: `make help` lists the targets.
GO ?= go
BIN ?= bin/rampart
# Fuzz budgets are counts of executions, not durations: with a duration, Go 1.26's fuzz
# coordinator can report a spurious "context deadline exceeded" failure at the boundary
# on a loaded machine (go.dev/issue/75804, fixed in Go 1.27).
FUZZTIME ?= 100000x

.PHONY: help build test js-assets control-plane fuzz bench bench-compare bench-fix bench-webhook generate verify lint clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: js-assets ## build bin/rampart (with the HTML reports' pinned graph library)
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/rampart

test: js-assets verify control-plane ## run every test (what CI runs): vet, gofmt, unit, fixture, golden, CLI, cluster and browser tests, then a short fuzz
	KUBEBUILDER_ASSETS="$$(hack/control-plane.sh)" $(GO) test -count=1 -timeout 20m $$($(GO) list ./... | grep -v /internal/e2e/report$$)
	@# The browser tests measure the HTML report's drawing time: alone, not beside the other packages.
	RAMPART_CHROMIUM="$$(hack/chromium.sh)" RAMPART_REQUIRE_BROWSER=1 $(GO) test -count=1 -timeout 10m ./internal/e2e/report
	$(MAKE) --no-print-directory fuzz

js-assets: ## fetch the pinned Cytoscape.js build the HTML reports inline (hack/js-assets.sh; cached outside the repo)
	@hack/js-assets.sh

control-plane: ## build kube-apiserver and etcd for the cluster tests (once; cached outside the repo)
	@hack/control-plane.sh >/dev/null

fuzz: ## fuzz the manifest loader for FUZZTIME executions (default 100000x, ~20s), then the Helm position mapping (5000x), the NetworkPolicy engine (20000x), the redactor's line reader (100000x) the admission handler (20000x), the audit event reader (20000x), the audit receiver (5000x), the CIS node reader's command lines and units (20000x) and files (2000x), the image package readers and OSV records (10000x each), the exposure analysis (5000x)
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./pkg/manifest
	$(GO) test -run '^$$' -fuzz '^FuzzHelmPositions$$' -fuzztime 5000x -fuzzminimizetime 5s ./pkg/source
	$(GO) test -run '^$$' -fuzz '^FuzzEngine$$' -fuzztime 20000x -fuzzminimizetime 5s ./pkg/netpol
	$(GO) test -run '^$$' -fuzz '^FuzzSplitKV$$' -fuzztime 100000x -fuzzminimizetime 5s ./pkg/secret
	$(GO) test -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime 20000x -fuzzminimizetime 5s ./pkg/admission
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime 20000x -fuzzminimizetime 5s ./pkg/audit
	$(GO) test -run '^$$' -fuzz '^FuzzReceive$$' -fuzztime 5000x -fuzzminimizetime 5s ./pkg/audit
	$(GO) test -run '^$$' -fuzz '^FuzzParseUnit$$' -fuzztime 20000x -fuzzminimizetime 5s ./pkg/cis
	$(GO) test -run '^$$' -fuzz '^FuzzNodeFiles$$' -fuzztime 2000x -fuzzminimizetime 5s ./pkg/cis
	$(GO) test -run '^$$' -fuzz '^FuzzParsers$$' -fuzztime 10000x -fuzzminimizetime 5s ./pkg/image
	$(GO) test -run '^$$' -fuzz '^FuzzLoadRecord$$' -fuzztime 10000x -fuzzminimizetime 5s ./pkg/vuln
	$(GO) test -run '^$$' -fuzz '^FuzzAnalyze$$' -fuzztime 5000x -fuzzminimizetime 5s ./pkg/exposure

bench: ## go test benchmarks of the hot paths
	$(GO) test -run '^$$' -bench . -benchmem ./pkg/engine

bench-compare: ## whole-process comparison with kube-score and a parse-only floor (bench/compare.sh)
	bench/compare.sh

bench-fix: ## fix against scan on the generated corpus, as files and as one file (bench/fix.sh)
	bench/fix.sh

bench-webhook: ## the admission webhook under load on 127.0.0.1: latency percentiles at 200 and 1,000 requests a second (bench/webhookload)
	$(GO) run ./bench/webhookload

generate: ## regenerate docs/checks.md from the check metadata
	$(GO) run ./cmd/rampart checks -o markdown > docs/checks.md

verify: ## gofmt, go vet, go mod tidy check
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

lint: ## golangci-lint v2 with the project's configuration (installs it into the Go bin folder)
	$(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0 run ./...

clean: ## remove build outputs
	rm -rf bin bench/results
