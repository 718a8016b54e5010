# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/incentive check scenarios/plans/seeds_base_float_excess.yaml
	$(BIN)/incentive payout scenarios/plans/seeds_base_float_excess.yaml \
	    --roster scenarios/data/seeds_roster.csv --actuals scenarios/data/seeds_actuals.csv \
	    --out out/seeds_statements.csv
	$(BIN)/incentive explain scenarios/plans/seeds_base_float_excess.yaml \
	    --roster scenarios/data/seeds_roster.csv --actuals scenarios/data/seeds_actuals.csv \
	    --rep R003 --period 2027-Q1

test: $(STAMP)
	$(BIN)/python -m pytest

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_payout.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
