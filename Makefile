# Thin targets; everything real lives in Go code and tests.
GO      ?= go
BIN     ?= bin/panicbutton
PKGS    ?= ./...

.PHONY: build test demo demo-attacker screenshot bench lint deps-check

build:
	$(GO) build -o $(BIN) ./cmd/panicbutton

# The whole test suite: unit tests, the executors' conformance suites against the
# in-process emulator, and the end-to-end CLI scripts in testdata/script.
test:
	$(GO) test -timeout 8m -count=1 $(PKGS)

# Starts the embedded emulator with the demo state and runs suspected-key-leak against it.
demo:
	$(GO) run ./cmd/panicbutton demo

# The same rehearsal racing the emulator's scripted attacker, which uses the master keys and
# sub-account keys (one reported leaked) while the playbook runs (about 12 s).
demo-attacker:
	$(GO) run ./cmd/panicbutton demo --attacker

# Regenerates docs/report-screenshot.png, the README's report screenshot: make demo's run
# (panicbutton demo, in a temporary directory), then the report's headless-Chromium test
# loads that run's report.html, checks it and writes the screenshot (needs chromium).
screenshot:
	@dir=$$(mktemp -d) && $(GO) run ./cmd/panicbutton demo --dir "$$dir" && \
	 run=$$(ls -d "$$dir"/runs/*/ | tail -n 1) && echo "screenshot of $$run" && \
	 PANICBUTTON_REPORT_RUN="$$run" PANICBUTTON_REQUIRE_CHROMIUM=1 \
	 $(GO) test -count=1 -run '^TestHTMLInChromium$$' ./internal/report -args -update-screenshot && rm -rf "$$dir"

# Speed benchmark (issues 6, 12): suspected-key-leak against the emulator with 40 ms
# latency at 1/4, 1, 4 and 16 times the reference state and the ip-shared shape, 5 runs
# each (16x and ip-shared take minutes: the rate limits bind); each size logs the limit
# that bounds it (a whole pass takes ~20 min). Comparable with benchstat (make bench > new.txt; benchstat old.txt new.txt).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 5 -timeout 150m ./bench

lint: deps-check
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) mod tidy -diff

# Imports flow one way: audit and playbooks are leaves; only executors/<x> import the SDKs.
deps-check:
	@bad=$$($(GO) list -deps ./internal/audit | grep 'panicbutton/' | grep -v '/internal/audit$$' || true); \
	 if [ -n "$$bad" ]; then echo "internal/audit must not import project packages: $$bad"; exit 1; fi
	@for p in $$($(GO) list ./... | grep -v '/executors/binance' ); do \
	   if $(GO) list -deps $$p | grep -q 'adshao/go-binance'; then \
	     case $$p in */internal/cli|*/cmd/panicbutton|*/executors/all|*/bench) ;; *) echo "$$p imports go-binance"; exit 1;; esac; fi; done
	@for p in $$($(GO) list ./... | grep -v '/executors/kucoin' ); do \
	   if $(GO) list -deps $$p | grep -q 'Kucoin/kucoin-go-sdk'; then \
	     case $$p in */internal/cli|*/cmd/panicbutton|*/executors/all|*/bench) ;; *) echo "$$p imports kucoin-go-sdk"; exit 1;; esac; fi; done
