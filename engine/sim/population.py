"""The simulated team: a roster shared by all runs, and per-run traits of the people.

The roster (seats: team, quota, base salary, target incentive, extra columns) is the
company's and is the same in every run; it is drawn once from the scenario's seed, or read
from the scenario's roster file. The people in the seats (skill, cost of effort, risk
aversion, outside offer, morale, tenure) are uncertain and drawn per run, as are the new
hires who backfill leavers. Each rep occupies one *slot*: the first ``seats`` slots are the
starting team, the rest are held for backfills.

Randomness (engine/sim/streams.py): the roster draws from the scenario's roster stream;
each trait of each run from its own stream, so adding a trait changes no other draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.core.errors import DataError
from engine.sim.scenario import Dist, Scenario
from engine.sim.streams import RunStreams, roster_rng

__all__ = ["Roster", "Traits", "build_roster", "complete_columns", "draw_traits", "hire_capacity", "log_skill_prior", "skill_posterior"]


@dataclass(frozen=True)
class Roster:
    """The seats of the team (shared by every run).

    Attributes:
        rep_ids: ``(seats,)`` ids of the starting reps.
        columns: roster column -> ``(seats,)`` array (float or object for text).
        quota: ``(seats,)`` annual primary target.
        ti: ``(seats,)`` annual target incentive.
        base_salary: ``(seats,)``.
    """

    rep_ids: np.ndarray
    columns: dict[str, np.ndarray]
    quota: np.ndarray
    ti: np.ndarray
    base_salary: np.ndarray

    @property
    def seats(self) -> int:
        return len(self.rep_ids)

    @property
    def ote(self) -> np.ndarray:
        return self.base_salary + self.ti


def hire_capacity(seats: int, months: int = 12) -> int:
    """Slots kept for backfills: enough for 60% annual turnover in every plan year of a
    horizon of ``months`` (seats stay vacant beyond that)."""
    years = max(1, -(-int(months) // 12))
    return max(1, int(np.ceil(0.6 * seats * years)))


def money_unit(salaries: np.ndarray) -> float:
    """What a generated roster rounds salaries and target incentives to: three significant
    figures of the median salary (100 for salaries in the tens of thousands); quotas are
    rounded to ten units.

    Relative to the salaries, not a fixed amount, so that a team paid in another currency or
    in thousands (every amount times ``k``, a power of ten) gets the same roster times ``k``:
    a fixed nearest-1,000 would round a quota of 850 (thousands) to 1,000.
    """
    typical = float(np.median(np.abs(salaries))) if np.size(salaries) else 0.0
    if not np.isfinite(typical) or typical <= 0.0:
        return 100.0
    return float(10.0 ** (np.floor(np.log10(typical)) - 2))


def _round_to(x: np.ndarray, unit: float) -> np.ndarray:
    """``x`` to the nearest multiple of ``unit`` (a power of ten, as ``np.round`` does for 100)."""
    digits = -round(float(np.log10(unit)))
    return np.round(x, digits)


def build_roster(scenario: Scenario) -> Roster:
    """The scenario's roster: generated from its distributions, or read from its roster file."""
    if scenario.roster is not None:
        return _read_roster(scenario, scenario.roster)
    rng = roster_rng(scenario.seed)
    n = scenario.reps
    drawn = scenario.base_salary.sample(rng, n)
    unit = money_unit(drawn)
    base = _round_to(drawn, unit)
    ti = _round_to(base * scenario.pay_mix / (1.0 - scenario.pay_mix), unit)
    quota = _round_to((base + ti) * scenario.quota_multiple.sample(rng, n), 10.0 * unit)
    teams = np.array([f"T{(i % scenario.teams) + 1:02d}" for i in range(n)], dtype=object)
    columns: dict[str, np.ndarray] = {"team": teams, scenario.primary_target: quota, "ti": ti, "base_salary": base}
    for name, dist in scenario.extra_columns:
        columns[name] = np.asarray(dist.sample(rng, n), dtype=float)
    _plan_columns(columns, scenario, n)
    ids = np.array([f"S{i + 1:05d}" for i in range(n)], dtype=object)
    return Roster(ids, columns, quota, ti, base)


def complete_columns(columns: dict[str, np.ndarray], scenario: Scenario, n: int) -> None:
    """Fill in what a real roster leaves out, in place: one team (``T01``) and each of the
    scenario's extra columns, drawn from its distribution on the roster stream."""
    if "team" not in columns:
        columns["team"] = np.array(["T01"] * n, dtype=object)
    for name, dist in scenario.extra_columns:
        if name not in columns:
            columns[name] = np.asarray(dist.sample(roster_rng(scenario.seed), n), dtype=float)
    _plan_columns(columns, scenario, n)


def _plan_columns(columns: dict[str, np.ndarray], scenario: Scenario, n: int) -> None:
    """The plan's own roster columns the team lacks: multiples of a team column, or one value
    for every rep (scenario ``columns:``, or the mapping of :mod:`engine.sim.shape`)."""
    for name, source, factor in scenario.derived_columns:
        if name not in columns and source in columns:
            columns[name] = np.asarray(columns[source], dtype=float) * float(factor)
    for name, value in scenario.constant_columns:
        if name not in columns:
            columns[name] = (np.full(n, value, dtype=object) if isinstance(value, str) else
                             np.full(n, float(value)))


def _read_roster(scenario: Scenario, src: str) -> Roster:
    """The roster file ``src`` (the scenario's ``roster``), checked against the scenario."""
    from engine.data.load import read_table

    df = read_table(src, "roster")
    if "rep_id" not in df.columns:
        raise DataError("missing-column", "the scenario's roster needs a 'rep_id' column", file=src, column="rep_id")
    if df["rep_id"].astype(str).duplicated().any():  # an effective-dated roster: each rep's latest row
        since = pd.to_datetime(df["effective_from"], errors="coerce") if "effective_from" in df.columns else None
        order = df.assign(_since=since, _row=np.arange(len(df))).sort_values(["_since", "_row"], na_position="first")
        df = order.groupby(order["rep_id"].astype(str), sort=False).tail(1).sort_values("_row")
        df = df.drop(columns=["_since", "_row"]).reset_index(drop=True)
    # The team's amounts from the plan's own columns (a multiple of one: engine/sim/shape.py).
    for name, source, factor in scenario.derived_columns:
        if source not in df.columns and name in df.columns and factor > 0:
            num = pd.to_numeric(df[name], errors="coerce")
            if num.notna().all():
                df[source] = num / factor
    if "base_salary" not in df.columns and "ti" in df.columns:  # the scenario's pay mix: TI / OTE
        df["base_salary"] = pd.to_numeric(df["ti"], errors="coerce") * (1.0 - scenario.pay_mix) / max(
            scenario.pay_mix, 1e-9)
    for col in (scenario.primary_target, "ti", "base_salary"):
        if col not in df.columns:
            raise DataError("missing-column", f"the scenario's roster needs a '{col}' column", file=src, column=col)
    columns: dict[str, np.ndarray] = {}
    for col in df.columns:
        if col == "rep_id":
            continue
        num = pd.to_numeric(df[col], errors="coerce")
        if num.notna().all():
            columns[col] = num.to_numpy(dtype=float)
        elif col in (scenario.primary_target, "ti", "base_salary"):
            bad = int(np.nonzero(num.isna().to_numpy())[0][0])
            raise DataError("not-a-number", f"'{col}' must be a number (got '{df[col].iloc[bad]}')",
                            file=src, row=int(df.index[bad]), column=col, rep=str(df["rep_id"].iloc[bad]))
        else:
            columns[col] = df[col].fillna("").astype(str).to_numpy(dtype=object)
    complete_columns(columns, scenario, len(df))
    return Roster(df["rep_id"].astype(str).to_numpy(dtype=object), columns, columns[scenario.primary_target],
                  columns["ti"], columns["base_salary"])


@dataclass
class Traits:
    """Per-run, per-slot traits (shape ``(runs, slots)``)."""

    skill: np.ndarray
    kappa: np.ndarray
    rho: np.ndarray
    outside: np.ndarray
    morale0: np.ndarray
    tenure: np.ndarray  # months in role at the start of the horizon (or at hire)


def draw_traits(scenario: Scenario, streams: RunStreams, slots: int, seats: int) -> Traits:
    """Draw every slot's traits for a chunk of runs (backfill slots start at tenure 0).

    Args:
        scenario: the scenario (its trait distributions).
        streams: the chunk's random streams; trait ``x`` of run ``i`` comes from run ``i``'s
            stream ``x`` only.
        slots: slots per run (seats plus backfill slots).
        seats: the starting team's slots.

    Returns:
        Traits of shape ``(runs, slots)``.
    """
    size = (slots,)
    tenure = streams.sample("tenure", scenario.tenure_months, size)
    tenure[:, seats:] = 0.0
    return Traits(
        skill=np.maximum(streams.sample("skill", scenario.skill, size), 1e-6),
        kappa=np.maximum(streams.sample("effort_cost", scenario.effort_cost, size), 1e-6),
        rho=np.maximum(streams.sample("risk_aversion", scenario.risk_aversion, size), 0.0),
        outside=np.maximum(streams.sample("outside_offer", scenario.outside_offer, size), 0.0),
        morale0=np.clip(streams.sample("initial_morale", scenario.initial_morale, size), 0.0, 1.0),
        tenure=np.maximum(tenure, 0.0),
    )


# -- skill given a rep's actuals so far (forecasts) ---------------------------------------

ATTAINMENT_FLOOR = 0.05
"""Observed production below this share of expectation counts as this share (log of 0)."""


def log_skill_prior(dist: Dist) -> tuple[float, float]:
    """Mean and standard deviation of log skill under the scenario's skill distribution.

    Exact for an untruncated lognormal (``log median``, ``sigma``) and a constant; other
    distributions by moments of 200,000 draws from a fixed seed (deterministic).
    """
    if dist.kind == "lognormal" and dist.get("low") is None and dist.get("high") is None:
        return float(np.log(dist.get("median"))), float(dist.get("sigma"))
    if dist.kind == "constant":
        return float(np.log(max(dist.get("value"), 1e-6))), 0.0
    rng = np.random.default_rng(np.random.SeedSequence([0x5C111, 2027]))
    x = np.log(np.maximum(dist.sample(rng, 200_000), 1e-6))
    return float(x.mean()), float(x.std())


def skill_posterior(prior_mean: float, prior_sd: float, observed: np.ndarray, expected: np.ndarray,
                    noise_cv2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and sd of each rep's log skill given production to date.

    A normal-normal (lognormal) shrinkage approximation: with ``Y = observed / expected``
    (``expected`` = what a skill-1 rep would have produced in the same months) and the
    sum's noise approximated as lognormal with mean 1 and ``v = ln(1 + noise_cv2)``,

        ln Y + v/2 ~ N(ln skill, v),      ln skill ~ N(prior_mean, prior_sd^2)

    so the posterior precision is ``1/prior_sd^2 + 1/v`` and its mean the
    precision-weighted average of ``prior_mean`` and ``ln Y + v/2``. Reps with no expected
    production to date keep the prior; ``Y`` is floored at :data:`ATTAINMENT_FLOOR`.

    Args:
        prior_mean, prior_sd: the prior of log skill (:func:`log_skill_prior`).
        observed: ``(R,)`` primary measure to date.
        expected: ``(R,)`` expected primary measure to date at skill 1.
        noise_cv2: ``(R,)`` squared coefficient of variation of the to-date total's noise.

    Returns:
        ``(mean, sd)`` arrays of shape ``(R,)``.
    """
    observed = np.asarray(observed, dtype=float)
    expected = np.asarray(expected, dtype=float)
    has = expected > 0
    mean = np.full(observed.shape, float(prior_mean))
    sd = np.full(observed.shape, float(prior_sd))
    if prior_sd <= 0 or not has.any():
        return mean, sd
    v = np.maximum(np.log1p(np.maximum(np.asarray(noise_cv2, dtype=float), 0.0)), 1e-12)
    y = np.log(np.maximum(observed / np.where(has, expected, 1.0), ATTAINMENT_FLOOR)) + v / 2.0
    prec = 1.0 / prior_sd ** 2 + 1.0 / v
    post_mean = (prior_mean / prior_sd ** 2 + y / v) / prec
    return np.where(has, post_mean, mean), np.where(has, np.sqrt(1.0 / prec), sd)
