# consentstream: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: install system-deps python-deps node-deps up down run stop test lint unit integration e2e node-test clean

install: system-deps python-deps node-deps

system-deps:
	bash scripts/install-system-deps.sh

$(BIN)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

python-deps: $(BIN)/.installed

node-deps:
	cd web-snippet && npm install --no-audit --no-fund --silent

up: install
	$(BIN)/consentstream up

down:
	-$(BIN)/consentstream stop-apps
	$(BIN)/consentstream down

run: up
	$(BIN)/consentstream start-apps

stop:
	$(BIN)/consentstream stop-apps

lint: python-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

unit: python-deps
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

node-test: node-deps
	cd web-snippet && npm test

test: up lint node-test
	$(BIN)/pytest tests --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

clean:
	rm -rf .stack .pytest_cache .mypy_cache .ruff_cache .coverage
