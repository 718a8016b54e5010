# Two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo lab test test-slow bench bench-sim bench-scale bench-payout bench-rows bench-jobs bench-numba backtest validation clean postgres

# The browser tests drive Debian's headless chromium; install it when it is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CHROMIUM := /usr/bin/chromium

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

PLANS := scenarios/plans/seeds_base_float_excess.yaml scenarios/plans/classic_ae.yaml \
	scenarios/plans/kpi_scorecard.yaml scenarios/plans/team_contest.yaml \
	scenarios/plans/annual_quarterly_trueup.yaml

demo: $(STAMP)
	@mkdir -p out
	$(BIN)/incentive payout scenarios/plans/seeds_base_float_excess.yaml \
	    --roster scenarios/data/seeds_roster.csv --actuals scenarios/data/seeds_actuals.csv \
	    --out out/seeds_statements.csv
	$(BIN)/incentive statements scenarios/plans/seeds_base_float_excess.yaml \
	    --roster scenarios/data/seeds_roster.csv --actuals scenarios/data/seeds_actuals.csv \
	    --out out/statements
	$(BIN)/incentive compare $(PLANS) --runs 100 --json out/compare.json --report out/report.html
	@echo ""
	@echo "Statements: out/statements/index.html (a self-contained page per rep and an index per team: open it in any browser)"
	@echo "Report:  out/report.html (one self-contained file: open it in any browser, e.g. xdg-open out/report.html)"
	@echo "Studio:  $(BIN)/incentive studio   then open http://127.0.0.1:8050/ to move a plan's parameters"
	@echo "Notebooks: make lab   (installs JupyterLab into .venv and opens notebooks/)"

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null

# The statement pages of a plan written in Chinese need a CJK font (the browser test checks
# that the text renders in it); install Noto Sans CJK when it is missing.
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

$(CJK_FONT):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fonts-noto-cjk >/dev/null

# The ledger tests run a throwaway cluster of Debian's PostgreSQL server (tests/pg.py);
# install it when it is missing (the tests start and stop their own server, never a system one).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql >/dev/null; }

lab: $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,notebooks]'
	$(BIN)/jupyter lab notebooks/

# Lint and types first (both configured in pyproject.toml): CI fails on them as on a test.
# The suite runs on every core (pytest-xdist, one worker per core: TEST_WORKERS=1 for one
# process); each worker has its own PostgreSQL cluster and temporary folders.
TEST_WORKERS ?= auto

test: $(STAMP) $(CHROMIUM) $(CJK_FONT) postgres
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --durations=15

test-slow: $(STAMP) $(CHROMIUM) $(CJK_FONT) postgres
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m slow

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_payout.py

bench-sim: $(STAMP)
	$(BIN)/python benchmarks/bench_simulate.py

bench-scale: $(STAMP)
	$(BIN)/python benchmarks/bench_scale.py

# `incentive payout` of 1,000,000 reps x 12 months from Parquet, against main in the same run.
bench-payout: $(STAMP)
	$(BIN)/python benchmarks/bench_payout_parquet.py

# The model card: published findings against the simulator (a few minutes).
validation: $(STAMP)
	$(BIN)/python -m engine.app.validation

bench-rows: $(STAMP)
	$(BIN)/python benchmarks/bench_rows.py

bench-jobs: $(STAMP)
	$(BIN)/python benchmarks/bench_jobs.py

# A short out-of-model back-test of `incentive forecast`: every process of
# benchmarks/backtest_out_of_model.py (the out-of-model generator without and with history, the
# simulator with morale drains off, doubled and as the forecast assumes), a few years each, the
# shares of years above P90 and P50 with their 95% Wilson intervals, and pooled (under 3 minutes).
# The full run: $(BIN)/python benchmarks/backtest_out_of_model.py --process all
backtest: $(STAMP)
	$(BIN)/python benchmarks/backtest_out_of_model.py --process all --years 10 --runs 40 --reps 40 --history-runs 20

# The numba backend against numpy on the seeds plan (evaluate, what-if pricing, simulate), one run.
bench-numba: $(STAMP)
	$(BIN)/python benchmarks/bench_numba.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
