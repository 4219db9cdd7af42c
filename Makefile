# consentstream: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# Test processes for `make test`: most tests wait on the real services, so three share 2 cores.
TEST_WORKERS ?= 3
BENCH_ARGS ?=

.PHONY: install system-deps python-deps node-deps snippet ui up down run stop test lint unit integration e2e node-test browser soak bench bench-dashboard clean cluster-test

install: system-deps python-deps node-deps

system-deps:
	bash scripts/install-system-deps.sh

$(BIN)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

python-deps: $(BIN)/.installed

# Exactly the locked esbuild; node_modules is rebuilt only when the lockfile changes.
web-snippet/node_modules/.package-lock.json: web-snippet/package-lock.json
	cd web-snippet && npm ci --no-audit --no-fund --silent

web-ui/node_modules/.package-lock.json: web-ui/package-lock.json
	cd web-ui && npm ci --no-audit --no-fund --silent

node-deps: web-snippet/node_modules/.package-lock.json web-ui/node_modules/.package-lock.json

# The collector serves web-snippet/dist/snippet.js (minified, CSS inlined).
snippet: node-deps
	cd web-snippet && npm run build

# The API serves web-ui/dist: the staff pages' script and styles (uPlot inside), Swagger UI.
ui: node-deps
	cd web-ui && npm run build

up: install
	$(BIN)/consentstream up

down:
	-$(BIN)/consentstream stop-apps
	$(BIN)/consentstream down

run: up snippet ui
	$(BIN)/consentstream start-apps

stop:
	$(BIN)/consentstream stop-apps

lint: python-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

unit: python-deps
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

node-test: snippet
	cd web-snippet && npm test

# Real headless Chromium (Debian's) against the real collector and worker.
browser: up python-deps snippet ui
	$(BIN)/pytest tests/browser $(PYTEST_ARGS)

# The cluster tests (tests/cluster: storage, erasure, a replica killed under load, and the
# collector, worker and API on a 3-master Redis Cluster, ~80 s of it) run here too, ~4.5 min on
# one shared start of each cluster; the three-broker Kafka scenario (~4.5 min) only in
# `make cluster-test`.
test: up lint node-test ui
	$(BIN)/pytest tests -n $(TEST_WORKERS) --dist loadgroup --cov --cov-report=term:skip-covered \
		--deselect tests/faults/test_kafka_brokers.py $(PYTEST_ARGS)

# The fault scenarios (kill -9, broker/ClickHouse/Redis/collector restarts, deletion and poison under
# load) run in `make test` briefly; `make soak` runs them five times longer and harder.
soak: python-deps
	FAULT_SCALE=$${FAULT_SCALE:-5} $(BIN)/pytest tests/faults -m faults -s $(PYTEST_ARGS)

# The cluster tests alone: ZooKeeper and 2 x 2 ClickHouse nodes, a 3-master Redis Cluster and
# three Kafka brokers of their own on free ports (never the shared stack), stopped at the end.
cluster-test: python-deps
	$(BIN)/pytest tests/cluster tests/faults/test_kafka_brokers.py -m cluster $(PYTEST_ARGS)

# Every benchmark at a scale that fits ~10 minutes on 2 cores, then one summary table with the
# machine's calibration; each figure is compared with a baseline measured in the same run.
bench: up python-deps snippet ui
	PYTHONPATH=. $(BIN)/python -m bench.all

# Every marketing dashboard panel and the page in Chromium on 10M events (about half an hour
# on 2 shared cores, most of it seeding and warming; --keep reuses the seeded database).
bench-dashboard: up python-deps ui
	PYTHONPATH=. $(BIN)/python -m bench.api.dashboard --events 10000000 $(BENCH_ARGS)

clean:
	rm -rf .stack .pytest_cache .mypy_cache .ruff_cache .coverage
