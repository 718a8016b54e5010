"""Errors cross process boundaries: every error class pickles with all its fields, and a plan
that fails to evaluate inside a worker (process pool, Dask, forecast, recalibrate) reaches the
caller as the evaluation error naming rep, period and expression, never as a broken pool."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from engine.core.errors import (
    DataError,
    DataErrors,
    EngineError,
    EvaluationError,
    PlanError,
    PlanErrors,
    Span,
)
from engine.plan import load_plan
from tests.cli import invoke

ROOT = Path(__file__).resolve().parents[1]
PLANS = ROOT / "scenarios" / "plans"
DATA = ROOT / "scenarios" / "data"
SPAN = Span("plan.yaml", 7, 12, 5, "  revenue: actuals.revenue")

FIELDS = {
    PlanError: ("code", "message", "span", "hint"),
    DataError: ("code", "message", "file", "row", "column", "rep", "hint"),
    EvaluationError: ("code", "message", "rep", "period", "expression", "span", "hint"),
}


def _examples() -> list[EngineError]:
    plan = PlanError("unknown-name", "unknown name 'revnue'", SPAN, "did you mean 'revenue'?")
    data = DataError("not-a-number", "'abc' is not a number", file="roster.csv", row=4,
                     column="quota", rep="R7", hint="write a plain number")
    return [
        EngineError("something went wrong"),
        plan,
        PlanError("bad-yaml", "the file is empty"),
        PlanErrors([plan, PlanError("unknown-key", "unknown key 'kind2'", SPAN.shifted(2, 3))]),
        data,
        DataErrors([data, DataError("missing-column", "no column 'ti'", file="roster.csv")]),
        EvaluationError("non-finite", "measure 'revenue' is inf", rep="R7", period="2027-Q1",
                        expression="a / b", span=SPAN, hint="use safe_div"),
    ]


@pytest.mark.parametrize("error", _examples(), ids=lambda e: type(e).__name__)
def test_every_error_class_round_trips_through_pickle(error):
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error)
    assert back.render() == error.render()
    assert str(back) == str(error)
    assert back.code == error.code
    for name in FIELDS.get(type(error), ()):
        assert getattr(back, name) == getattr(error, name), name
    for mine, theirs in zip(getattr(back, "errors", ()), getattr(error, "errors", ())):
        assert type(mine) is type(theirs) and mine.render() == theirs.render()
        for name in FIELDS[type(theirs)]:
            assert getattr(mine, name) == getattr(theirs, name), name


def test_attributes_set_after_construction_survive():
    error = PlanError("x", "message")
    error.span = SPAN
    assert pickle.loads(pickle.dumps(error)).span == SPAN


def test_every_engine_error_subclass_is_covered():
    """A new error class must be added to the examples above (so it is pickled in a test)."""
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    covered = {type(e) for e in _examples()}
    assert set(subclasses(EngineError)) <= covered


def _failing_measure(plan: str, old: str, condition: str, tmp_path: Path) -> Path:
    """A copy of a shipped plan whose measure divides by zero where ``condition`` holds."""
    text = (PLANS / plan).read_text()
    expr = old.split(":", 1)[1].strip()
    new = old.replace(expr, f"where({condition}, {expr} / ({expr} * 0), {expr})")
    assert old in text
    path = tmp_path / plan
    path.write_text(text.replace(old, new, 1))
    return path


def test_failing_plan_under_two_workers(tmp_path):
    from engine.sim.run import simulate

    checked = load_plan(_failing_measure("classic_ae.yaml", "    expr: actuals.revenue",
                                         "actuals.revenue >= 0", tmp_path))
    with pytest.raises(EvaluationError) as info:
        simulate(checked, runs=8, chunk_runs=2, workers=2, seed=3)
    error = info.value
    assert error.code == "non-finite" and error.rep and error.period
    assert "actuals.revenue" in (error.expression or "") and error.span is not None


def test_failing_plan_on_the_command_line_under_two_workers(tmp_path):
    plan = _failing_measure("classic_ae.yaml", "    expr: actuals.revenue", "actuals.revenue >= 0", tmp_path)
    result = invoke("simulate", plan, "--runs", "8", "--chunk-runs", "2", "--workers", "2",
                    "--json", tmp_path / "out.json")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "error[non-finite]" in result.output
    assert "in expression:" in result.output
    assert not (tmp_path / "out.json").exists()


def test_failing_plan_in_forecast_workers(tmp_path):
    """Fails only in simulated periods: no closed quarter of the shipped actuals reaches 1.2M,
    some simulated ones do."""
    from engine.jobs.forecast import forecast

    checked = load_plan(_failing_measure("kpi_scorecard.yaml", "  revenue: actuals.revenue",
                                         "actuals.revenue > 1200000", tmp_path))
    with pytest.raises(EvaluationError) as info:
        forecast(checked, DATA / "field_team_roster.csv", DATA / "field_team_actuals_h1.csv",
                 runs=20, chunk_runs=5, workers=2, seed=1)
    assert info.value.code == "non-finite" and info.value.rep and info.value.period


def test_failing_plan_in_recalibrate_workers(tmp_path):
    """The plan as written evaluates; candidates with a high threshold do not. Such a
    candidate is out of the search, its history row carrying the evaluation error intact."""
    from engine.jobs.recalibrate import RecalibrationSpec, recalibrate

    checked = load_plan(_failing_measure("classic_ae.yaml", "    expr: actuals.revenue",
                                         "threshold > 0.6", tmp_path))
    rec = recalibrate(checked, RecalibrationSpec(maximize="revenue", budget=8), runs=8, workers=2, seed=2)
    failed = rec.history[rec.history["threshold"] > 0.6]
    assert len(failed) > 0 and failed["invalid"].notna().all()
    for text in failed["invalid"]:
        assert "error[non-finite]" in text and "for rep '" in text and "in expression:" in text
    assert (rec.history[rec.history["threshold"] <= 0.6]["invalid"].isna()).all()


def test_failing_plan_on_dask(tmp_path):
    import dask
    from distributed import Client, LocalCluster

    from engine.sim.run import simulate

    checked = load_plan(_failing_measure("classic_ae.yaml", "    expr: actuals.revenue",
                                         "actuals.revenue >= 0", tmp_path))
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 2 ** 30}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client, pytest.raises(EvaluationError) as info:
        simulate(checked, runs=4, chunk_runs=2, scheduler=client, seed=3)
    assert info.value.code == "non-finite" and info.value.span is not None
