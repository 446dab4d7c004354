# cronwatch — the two commands a newcomer runs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit system-deps bench clean

$(STAMP): pyproject.toml setup.py shipper/_speedups.c alerter/_speedups.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

system-deps:
	@PYTHON=$(PYTHON) bash scripts/install-system-deps.sh

## make demo: the whole pipeline on embedded defaults (store, Prometheus, alerter, shipper, scheduler)
demo: $(STAMP)
	@bash scripts/install-system-deps.sh --demo
	$(BIN)/cronwatch demo $(DEMO_ARGS)

## make test: install everything needed, then lint, type-check and run the full suite
test: system-deps $(STAMP) lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy cronwatch shipper alerter scheduler

unit: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP) system-deps
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var build *.egg-info
