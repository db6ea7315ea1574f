# The two commands a newcomer needs: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA ?= ledger-data

.PHONY: run demo test check lint types contracts pytest bench hammer clean

$(BIN)/ledger: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(BIN)/ledger  ## seed the demo into the embedded store, then serve the API with a token per role
	$(BIN)/ledger --data $(DATA) demo
	$(BIN)/ledger --data $(DATA) serve

demo: run

test: $(BIN)/ledger lint types contracts pytest  ## the whole suite: lint, types, import contracts, tests

lint: $(BIN)/ledger
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(BIN)/ledger
	$(BIN)/mypy

contracts: $(BIN)/ledger
	$(BIN)/lint-imports

pytest: $(BIN)/ledger
	$(BIN)/pytest

bench: $(BIN)/ledger  ## every benchmark, each beside a baseline of the same run; writes docs/PERFORMANCE.md
	$(BIN)/python -m bench.performance

HAMMER ?= --seconds 30 --seed 1 --clients 8
hammer: $(BIN)/ledger  ## concurrent random valid and invalid commands, invariants checked alongside, on both stores
	$(BIN)/python -m bench.hammer $(HAMMER) --store sqlite
	$(BIN)/python -m bench.hammer $(HAMMER) --store postgres

clean:
	rm -rf $(VENV) $(DATA) .pytest_cache .mypy_cache .ruff_cache .hypothesis
