"""Fuzzing the command line: random bytes, random YAML, mutated plans and mangled tables
thrown at `check`, `payout` and `simulate` through the CLI entry point.

Whatever comes in, the command exits 0 or 2, prints no traceback, writes no output file
unless it succeeded, and finishes within a time limit. A short run is part of the default
suite (deterministic: ``derandomize``); ``make test-slow`` runs the long one. Every crash
found became a case in the error tables (``tests/plan/test_errors.py``,
``tests/data/test_bad_tables.py``, ``tests/test_cli_outputs.py``).
"""

from __future__ import annotations

import io
import math
import re
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.app.cli import cli

ROOT = Path(__file__).resolve().parents[1]
PLANS = sorted((ROOT / "scenarios" / "plans").glob("*.yaml"))
DATA = ROOT / "scenarios" / "data"
PAIRS = {  # plan -> (roster, actuals) it is paid from
    "seeds_base_float_excess": ("seeds_roster.csv", "seeds_actuals.csv"),
    "classic_ae": ("classic_ae_roster.csv", "classic_ae_deals.csv"),
    "kpi_scorecard": ("kpi_scorecard_roster.csv", "kpi_scorecard_actuals.csv"),
    "team_contest": ("team_contest_roster.csv", "team_contest_actuals.csv"),
    "annual_quarterly_trueup": ("annual_quarterly_trueup_roster.csv", "annual_quarterly_trueup_actuals.csv"),
    "seeds_cn_deals": ("seeds_cn_roster.csv", "seeds_cn_deals.csv"),
    "product_rates_on_payment": ("product_rates_roster.csv", "product_rates_invoices.csv"),
    "roster_changes": ("roster_changes_roster.csv", "roster_changes_actuals.csv"),
}
SHORT, LONG = 12, 300
TIME_LIMIT = 60  # seconds per case: a hang fails the test
BUDGETS = [SHORT, pytest.param(LONG, marks=pytest.mark.slow)]


def fuzz_settings(n: int):
    return settings(max_examples=n, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


@contextmanager
def time_limit(seconds: int):
    def hang(signum, frame):
        raise TimeoutError(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run_cli(args: list[str], out: Path | None = None) -> None:
    """Run one command in process; assert the contract whatever happened."""
    with time_limit(TIME_LIMIT):
        result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        trace = "".join(traceback.format_exception(result.exception))
        raise AssertionError(f"{args[0]} raised {result.exception!r}:\n{trace}")
    assert result.exit_code in (0, 2), (result.exit_code, result.output)
    assert "Traceback" not in result.output
    if out is not None and result.exit_code != 0:
        assert not out.exists(), f"{out} written by a failed run"
        assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], "temporary file left"


def workdir(base: Path) -> Path:
    return Path(tempfile.mkdtemp(dir=base))


# --- strategies -------------------------------------------------------------------------------

_WEIRD_NUMBERS = ["1e308", "-1e308", "1e-308", "-0", "0", "nan", "NaN", "inf", "-inf", "1e400", "0x10",
                  "1_000", "99999999999999999999999", "-1", "0.000000001", "1,5", "12%", "", " ", "abc"]
numbers = st.one_of(st.sampled_from(_WEIRD_NUMBERS), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                    st.integers(min_value=-10 ** 30, max_value=10 ** 30).map(str))
junk = st.one_of(st.text(max_size=12), st.sampled_from(["**", "__import__('os')", "((", ")", ":", ", ", "{", "}",
                                                        "[", "]", "&a", "*a", "!!python/object", "\t", "'", '"',
                                                        "- ", "#", "|", ">", "%", "=", "==", "not", "and"]))
yaml_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.floats(allow_nan=True), st.integers(), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20,
)


@st.composite
def mutated_plan(draw) -> tuple[str, str]:
    """A shipped plan with a few random edits: lines dropped, doubled or swapped, numbers
    replaced by odd ones, junk inserted into a line."""
    path = draw(st.sampled_from(PLANS))
    lines = path.read_text().splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["drop", "double", "number", "junk", "swap", "indent"]))
        if how == "drop":
            del lines[i]
        elif how == "double":
            lines.insert(i, lines[i])
        elif how == "number" and re.search(r"\d", lines[i]):
            lines[i] = re.sub(r"\d+(\.\d+)?", lambda m: draw(numbers), lines[i], count=1)
        elif how == "junk":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(junk) + lines[i][at:]
        elif how == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif how == "indent":
            lines[i] = draw(st.sampled_from(["  ", "\t", " "])) + lines[i]
        if not lines:
            lines = ["plan: x"]
    return path.stem, "\n".join(lines) + "\n"


@st.composite
def mangled_table(draw, name: str) -> tuple[pd.DataFrame, list[str]]:
    """A shipped table with cells replaced, rows duplicated or dropped, headers repeated."""
    df = pd.read_csv(DATA / name, dtype=str, keep_default_na=False)
    columns = list(df.columns)
    for _ in range(draw(st.integers(1, 4))):
        how = draw(st.sampled_from(["cell", "cell", "dup-row", "drop-rows", "dup-header", "drop-column", "empty"]))
        if how == "cell" and len(df):
            r = draw(st.integers(0, len(df) - 1))
            c = draw(st.integers(0, len(df.columns) - 1))
            df.iat[r, c] = draw(st.one_of(numbers, junk))
        elif how == "dup-row" and len(df):
            r = draw(st.integers(0, len(df) - 1))
            df = pd.concat([df, df.iloc[[r]]], ignore_index=True)
        elif how == "drop-rows":
            df = df.iloc[: draw(st.integers(0, len(df)))]
        elif how == "dup-header":
            c = draw(st.integers(0, len(columns) - 1))
            columns = columns[:]
            columns[draw(st.integers(0, len(columns) - 1))] = columns[c]
        elif how == "drop-column" and len(df.columns) > 1:
            c = draw(st.integers(0, len(df.columns) - 1))
            df = df.drop(columns=df.columns[c])
            columns = [col for col in columns if col in df.columns] or list(df.columns)
        elif how == "empty" and len(df):
            df.iat[draw(st.integers(0, len(df) - 1)), draw(st.integers(0, len(df.columns) - 1))] = ""
    columns = (columns + list(df.columns))[: len(df.columns)]
    return df, columns


def write_table(df: pd.DataFrame, columns: list[str], path: Path, encoding: str) -> Path:
    if path.suffix == ".xlsx":
        import openpyxl

        book = openpyxl.Workbook()
        ws = book.active
        ws.append([_excel_cell(c) for c in columns])
        for row in df.itertuples(index=False):
            ws.append([_excel_cell(v) for v in row])
        book.save(path)
        return path
    buf = io.StringIO()
    buf.write(",".join(columns) + "\n")
    df.to_csv(buf, index=False, header=False)
    path.write_bytes(buf.getvalue().encode(encoding, errors="replace"))
    return path


def _excel_cell(value: str):
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    value = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters cannot be stored in a workbook
    try:
        number = float(value)
    except ValueError:
        return value
    return number if math.isfinite(number) else value


# --- the fuzz tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", BUDGETS)
def test_check_random_bytes(tmp_path, n):
    @fuzz_settings(n)
    @given(st.binary(max_size=3000))
    def case(data):
        plan = workdir(tmp_path) / "plan.yaml"
        plan.write_bytes(data)
        run_cli(["check", plan])
    case()


@pytest.mark.parametrize("n", BUDGETS)
def test_check_random_yaml(tmp_path, n):
    @fuzz_settings(n)
    @given(yaml_values)
    def case(doc):
        plan = workdir(tmp_path) / "plan.yaml"
        plan.write_text(yaml.safe_dump(doc, allow_unicode=True))
        run_cli(["check", plan])
    case()


@pytest.mark.parametrize("n", BUDGETS)
def test_check_and_payout_mutated_plans(tmp_path, n):
    @fuzz_settings(n)
    @given(mutated_plan())
    def case(drawn):
        stem, text = drawn
        d = workdir(tmp_path)
        plan = d / "plan.yaml"
        plan.write_text(text)
        run_cli(["check", plan])
        roster, actuals = PAIRS[stem]
        out = workdir(tmp_path) / "statements.csv"
        run_cli(["payout", plan, "--roster", DATA / roster, "--actuals", DATA / actuals, "--out", out], out)
    case()


@pytest.mark.parametrize("n", BUDGETS)
def test_payout_mangled_tables(tmp_path, n):
    @fuzz_settings(n)
    @given(st.sampled_from(sorted(PAIRS)), st.booleans(), st.data(),
           st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"]),
           st.sampled_from([".csv", ".csv", ".xlsx"]))
    def case(stem, which, data, encoding, suffix):
        roster_name, actuals_name = PAIRS[stem]
        name = roster_name if which else actuals_name
        df, columns = data.draw(mangled_table(name))
        d = workdir(tmp_path)
        mangled = write_table(df, columns, d / f"table{suffix}", encoding)
        roster = mangled if which else DATA / roster_name
        actuals = DATA / actuals_name if which else mangled
        out = workdir(tmp_path) / "statements.csv"
        run_cli(["payout", ROOT / "scenarios" / "plans" / f"{stem}.yaml", "--roster", roster, "--actuals",
                 actuals, "--out", out], out)
    case()


@pytest.mark.parametrize("n", [4, pytest.param(60, marks=pytest.mark.slow)])
def test_simulate_mutated_plans(tmp_path, n):
    @fuzz_settings(n)
    @given(mutated_plan())
    def case(drawn):
        _, text = drawn
        plan = workdir(tmp_path) / "plan.yaml"
        plan.write_text(text)
        out = workdir(tmp_path) / "sim.json"
        run_cli(["simulate", plan, "--runs", "2", "--workers", "1", "--json", out], out)
    case()
