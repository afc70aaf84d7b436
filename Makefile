# kfm-wal: `make help` lists the targets. Everything runs inside .venv, which the targets create.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.deps-installed

.DEFAULT_GOAL := help
.PHONY: help venv build demo test test-rust test-python lint fmt bench bench-check crash vectors wheel-check clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "maturin>=1.7,<2"
	touch $(STAMP)

venv: $(STAMP) ## Create the virtualenv (dependencies come from pyproject.toml at build)

build: $(STAMP) ## Build the Rust core (release) into the virtualenv, with every extra (ops layers, distributed, dev tools)
	PIP_QUIET=1 $(BIN)/maturin develop --release -q -E dev,ops,distributed

demo: build ## Run the main job: a sample pipeline logged under data/, validated, summarised
	$(BIN)/kfm-wal demo --data data

test-rust: ## cargo test: the core alone (unit, integration, property tests)
	cargo test --workspace --exclude kfm-wal-py -q

test-python: build ## pytest: public API, CLI, reference implementation, vectors
	$(BIN)/pytest tests

test: test-rust test-python ## All tests (what CI runs)

lint: build ## cargo fmt --check, clippy -D warnings, ruff check + format --check, mypy, stubtest of kfm_wal._core
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(BIN)/ruff check python tests benches
	$(BIN)/ruff format --check python tests benches
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest kfm_wal._core

fmt: build ## Format Rust and Python sources
	cargo fmt --all
	$(BIN)/ruff check --fix -q python tests benches || true
	$(BIN)/ruff format -q python tests benches

bench: build ## Benchmarks (~5-10 min; first run also builds 5 GB of cached archives): ratios against peers, scaling plot
	PIP_QUIET=1 $(BIN)/maturin develop --release -q -E dev,ops,bench
	$(BIN)/python benches/run.py

bench-check: build ## Benchmark regression gate (1-3 min): fails when a ratio regresses past benches/baseline.json
	PIP_QUIET=1 $(BIN)/maturin develop --release -q -E dev,ops,bench
	$(BIN)/python benches/run.py --check

crash: build ## Crash testing: 16,000 simulated power-loss states (12,000 with one appender, 4,000 with four) and 500 kill -9 runs
	KFM_WAL_CRASH_STATES=12000 cargo test -p kfm-wal-core --release --test power_loss -- --nocapture
	rm -rf .crash && $(BIN)/python tests/crash/harness.py .crash --kills 500 && rm -rf .crash

wheel-check: build ## Build the release wheel, install it alone (no extras) in a clean virtualenv, validate every vector with it
	rm -rf .wheel-check
	$(BIN)/maturin build --release -q --out .wheel-check/dist
	$(PYTHON) -m venv .wheel-check/venv
	.wheel-check/venv/bin/pip install -q .wheel-check/dist/*.whl
	@echo "plain install: $$(.wheel-check/venv/bin/pip list --format=freeze | wc -l) packages, $$(du -sm .wheel-check/venv | cut -f1) MB"
	.wheel-check/venv/bin/python .ci/validate_vectors.py .wheel-check/venv/bin/kfm-wal
	rm -rf .wheel-check

vectors: build ## Regenerate the golden vectors in data/vectors/
	$(BIN)/python tests/reference/make_vectors.py

clean: ## Remove build outputs and the virtualenv
	rm -rf target $(VENV) .pytest_cache .hypothesis .bench-tmp .wheel-check
