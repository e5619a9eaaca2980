# Pilotline — make help lists the targets.
SHELL := /bin/bash
GO ?= go
SPEED ?= 120
HTTP ?= 127.0.0.1:8080
BIN := bin/pilotline
INTEROP := opcua/testdata/interop
TAHU := mqtt/testdata/tahu
export PATH := $(shell $(GO) env GOPATH)/bin:$(PATH)

.PHONY: help build run sim test race bench lint soak deps deps-browser deps-node deps-mqtt clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-14s %s\n", $$1, $$2}'

build: ## build bin/pilotline
	$(GO) build -o $(BIN) ./cmd/pilotline

run: build ## run the whole line (simulated line + MES + twin) and print the URL; SPEED=120 HTTP=127.0.0.1:8080
	./$(BIN) serve --speed $(SPEED) --http $(HTTP) --anonymous-viewer

sim: build ## serve only the simulated line over OPC UA, running on its own
	./$(BIN) sim --autorun --speed $(SPEED)

deps-browser: ## install Debian chromium and a CJK font for the browser tests if missing (needs root)
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || missing="$$missing fonts-wqy-microhei"; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing (apt-get)"; \
		if [ "$$(id -u)" != 0 ]; then echo "missing$$missing; installing needs root: sudo apt-get install$$missing" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

deps-node: ## install node-opcua for the interop tests (npm, into $(INTEROP)/node_modules)
	@if [ ! -d $(INTEROP)/node_modules/node-opcua ]; then \
		echo "installing node-opcua (npm)"; \
		npm install --prefix $(INTEROP) --no-audit --no-fund --loglevel=error; \
	fi

deps-mqtt: ## install Mosquitto (apt-get, needs root) and the Eclipse Tahu Sparkplug decoder (npm, into $(TAHU)/node_modules) if missing
	@if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then \
		echo "installing mosquitto (apt-get)"; \
		if [ "$$(id -u)" != 0 ]; then echo "missing mosquitto; installing needs root: sudo apt-get install mosquitto" >&2; exit 1; fi; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; \
	fi
	@if [ ! -d $(TAHU)/node_modules/sparkplug-payload ]; then \
		echo "installing sparkplug-payload (npm)"; \
		npm install --prefix $(TAHU) --no-audit --no-fund --loglevel=error; \
	fi

deps: deps-browser deps-node deps-mqtt ## install everything the tests need

test: deps ## install what the tests need, then run every test
	PILOTLINE_REQUIRE_INTEROP=1 PILOTLINE_REQUIRE_BROWSER=1 PILOTLINE_REQUIRE_BROKER=1 $(GO) test -count=1 -timeout 20m ./...

race: deps ## every test under the race detector
	PILOTLINE_REQUIRE_INTEROP=1 PILOTLINE_REQUIRE_BROWSER=1 PILOTLINE_REQUIRE_BROKER=1 $(GO) test -race -count=1 -timeout 30m ./...

bench: deps ## run the benchmarks (figures go to BENCHMARKS.md)
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 -timeout 30m ./... > bench.out 2>&1; rc=$$?; cat bench.out; exit $$rc

SEED ?= 1
soak: build ## the shift under fire: a full 8-hour simulated shift with faults (under 10 min); SEED=1, report in out/soak
	./$(BIN) soak --seed $(SEED) --out out/soak

lint: ## go vet + staticcheck (installed if missing)
	$(GO) vet ./...
	@command -v staticcheck >/dev/null 2>&1 || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	staticcheck ./...

clean: ## remove build output (not ./data)
	rm -rf bin bench.out
