"""Reading a ledger back: a rep's history, and verifying recorded runs.

:func:`verify` recomputes a run from what the ledger stored (the plan text, the roster and
actuals bytes, the sheet) with this engine, issues it against the ledger as it stood before
the run (the periods closed then, their frozen statements, the corrections already paid),
and compares every statement column and every adjustment to the cent.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from engine.core.errors import DataError
from engine.data.ledger import schema as t
from engine.data.ledger.runs import _issue, blob, issued_statements, money_text, units_of
from engine.data.ledger.store import Ledger

__all__ = ["RepHistory", "Verified", "history", "verify"]


@dataclass(frozen=True)
class RepHistory:
    """Everything the ledger holds about one rep.

    Attributes:
        rep_id: the rep.
        runs: the runs that issued a statement for the rep (id, when, who, plan, hashes, version).
        statements: per run and period: the rep's ``total``, ``prior_periods`` and the run
            whose closed statement it repeats (``frozen_from``).
        adjustments: the rep's prior-period corrections, per run.
        closes: the closed periods of the rep's plans.
    """

    rep_id: str
    runs: list[dict]
    statements: list[dict]
    adjustments: list[dict]
    closes: list[dict]

    def text(self) -> str:
        """The history as ``incentive history`` prints it."""
        out = [f"rep {self.rep_id}: {len(self.runs)} run{'s' if len(self.runs) != 1 else ''}", "", "Runs"]
        for r in self.runs:
            sheet = f", sheet {r['sheet']}" if r["sheet"] is not None else ""
            out.append(f"  run {r['id']}  {r['recorded_at']}  by {r['recorded_by']}  plan {r['plan_name']} "
                       f"{r['plan_hash'][:12]}  roster {r['roster_hash'][:12]}  actuals {r['actuals_hash'][:12]}"
                       f"{sheet}  engine {r['engine_version']}")
        out += ["", "Statements (total; a closed period repeats its frozen statement)"]
        by_period: dict[tuple[str, str], list[dict]] = {}
        for s in self.statements:
            by_period.setdefault((s["plan_name"], s["period"]), []).append(s)
        closed = {(c["plan_name"], c["period"]): c for c in self.closes}
        for (plan, period), versions in sorted(by_period.items()):
            c = closed.get((plan, period))
            state = f"closed by {c['closed_by']} at {c['closed_at']}, frozen at run {c['frozen_run']}" if c else "open"
            out.append(f"  {plan} {period} ({state})")
            for s in versions:
                note = f"  = run {s['frozen_from']} (closed)" if s["frozen_from"] is not None else ""
                prior = f"  incl. prior_periods {s['prior_periods']}" if s["prior_periods"] not in (None, "0.00", "0") \
                    else ""
                out.append(f"    run {s['run_id']}: total {s['total']} {s['currency']}{prior}{note}")
        out += ["", "Adjustments (corrections of closed periods)"]
        if not self.adjustments:
            out.append("  none")
        for a in self.adjustments:
            where = f"paid in {a['paid_in']}" if a["paid_in"] else "pending (no open period in the run)"
            out.append(f"  run {a['run_id']}: {a['corrects_period']} {a['column']} (closed at run {a['corrects_run']}) "
                       f"was {a['was']} now {a['now']}: {a['delta']} {where}")
        return "\n".join(out) + "\n"


def history(ledger: Ledger, rep_id: str) -> RepHistory:
    """Every run, statement version, adjustment and close concerning ``rep_id``.

    Raises:
        DataError: ``unknown-rep`` when no run issued the rep a statement.
    """
    with ledger.transaction() as conn:
        q = (sa.select(t.statements, t.runs.c.plan_name, t.runs.c.minor_unit, t.runs.c.currency)
             .join(t.runs, t.runs.c.id == t.statements.c.run_id)
             .where(t.statements.c.rep_id == rep_id).order_by(t.statements.c.period, t.statements.c.run_id))
        stmts = []
        for s in conn.execute(q).mappings():
            d = s["minor_unit"]
            stmts.append({"run_id": s["run_id"], "plan_name": s["plan_name"], "period": s["period"],
                          "total": money_text(s["total_units"], d), "currency": s["currency"],
                          "prior_periods": s["amounts"].get("prior_periods"), "frozen_from": s["frozen_from"]})
        if not stmts:
            from engine.core.text import did_you_mean

            reps = [r[0] for r in conn.execute(sa.select(t.statements.c.rep_id).distinct())]
            raise DataError("unknown-rep", f"the ledger has no statement for rep '{rep_id}'", file=ledger.name,
                            rep=rep_id, hint=did_you_mean(rep_id, reps))
        run_ids = sorted({s["run_id"] for s in stmts})
        runs = [dict(r) for r in conn.execute(
            sa.select(t.runs).where(t.runs.c.id.in_(run_ids)).order_by(t.runs.c.id)).mappings()]
        units = {r["id"]: r["minor_unit"] for r in runs}
        adjustments = [
            {**{k: a[k] for k in ("run_id", "paid_in", "corrects_period", "corrects_run", "column")},
             **{k: money_text(a[f"{k}_units"], units[a["run_id"]]) for k in ("was", "now", "delta")}}
            for a in conn.execute(sa.select(t.adjustments).where(t.adjustments.c.rep_id == rep_id)
                                  .order_by(t.adjustments.c.run_id, t.adjustments.c.id)).mappings()]
        plans = {r["plan_name"] for r in runs}
        closes = [dict(c) for c in conn.execute(sa.select(t.closes).where(t.closes.c.plan_name.in_(plans))
                                                .order_by(t.closes.c.id)).mappings()]
    for r in runs:
        r.pop("columns", None)
        r.pop("parts", None)
    return RepHistory(rep_id, runs, stmts, adjustments, closes)


@dataclass(frozen=True)
class Verified:
    """The outcome of verifying one run: ``differences`` is empty when it is identical."""

    run_id: int
    statements: int
    adjustments: int
    engine_then: str
    differences: list[str]

    @property
    def identical(self) -> bool:
        return not self.differences

    def text(self) -> str:
        from engine.data.ledger.runs import engine_version

        now = engine_version()
        versions = f"; recorded with engine {self.engine_then}, recomputed with {now}" \
            if self.engine_then != now else ""
        if self.identical:
            return (f"run {self.run_id}: identical ({self.statements} statements, "
                    f"{self.adjustments} adjustment lines recomputed to the cent{versions})")
        shown = self.differences[:20]
        more = len(self.differences) - len(shown)
        return "\n".join([f"run {self.run_id}: DIFFERENT ({len(self.differences)} differences{versions})"]
                         + [f"  {x}" for x in shown] + ([f"  ... and {more} more"] if more > 0 else []))


def _run_ids(ledger: Ledger, run_id: int | None) -> list[int]:
    with ledger.transaction() as conn:
        ids = [r[0] for r in conn.execute(sa.select(t.runs.c.id).order_by(t.runs.c.id))]
    if run_id is None:
        if not ids:
            raise DataError("no-runs", f"the ledger {ledger.name} has no run to verify", file=ledger.name)
        return ids
    if run_id not in ids:
        raise DataError("unknown-run", f"the ledger has no run {run_id}"
                        + (f" (its runs are {ids[0]} to {ids[-1]})" if ids else " (it has no run yet)"),
                        file=ledger.name)
    return [run_id]


def verify(ledger: Ledger, run_id: int | None = None) -> list[Verified]:
    """Recompute recorded runs from their stored plan and data; compare to the cent.

    Args:
        ledger: the open ledger.
        run_id: the run to verify (default: every run, oldest first).
    """
    return [_verify_one(ledger, r) for r in _run_ids(ledger, run_id)]


def _verify_one(ledger: Ledger, run_id: int) -> Verified:
    from engine.data.statements import statements
    from engine.plan import parse_plan

    with ledger.transaction() as conn:
        run = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).mappings().one()
        plan_text = blob(conn, run["plan_hash"]).decode("utf-8")
        roster = blob(conn, run["roster_hash"])
        actuals = blob(conn, run["actuals_hash"])
        plan_files = {path: blob(conn, sha) for path, sha in (run.get("plan_files") or {}).items()}
    with tempfile.TemporaryDirectory(prefix="incentive-verify-") as tmp:
        roster_path = Path(tmp) / f"roster.{run['roster_format']}"
        actuals_path = Path(tmp) / f"actuals.{run['actuals_format']}"
        roster_path.write_bytes(roster)
        actuals_path.write_bytes(actuals)
        # The plan's table files where its paths (relative to the plan) find them.
        depth = max([p.replace("\\", "/").count("../") for p in plan_files] + [0])
        plan_dir = Path(tmp, "plan", *(["d"] * depth))
        plan_dir.mkdir(parents=True)
        for rel, content in plan_files.items():
            target = (plan_dir / rel).resolve()
            if Path(tmp).resolve() not in target.parents:  # a stored path never writes outside the folder
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        checked = parse_plan(plan_text, str(plan_dir / "plan.yaml") if plan_files else f"<plan of run {run_id}>")
        fresh = statements(checked, str(roster_path), str(actuals_path), sheet=run["sheet"])
    d = checked.plan.minor_unit
    parts = [c.name for c in checked.plan.components] + ["adjustment"]
    with ledger.transaction() as conn:
        again, lines, _ = _issue(conn, run["plan_name"], fresh, parts, d, run_id)
        stored = issued_statements(conn, run_id)
        stored_adj = [dict(a) for a in conn.execute(
            sa.select(t.adjustments).where(t.adjustments.c.run_id == run_id).order_by(t.adjustments.c.id)).mappings()]
    diffs = _compare(stored, again, d)
    key = ("rep_id", "paid_in", "corrects_period", "corrects_run", "column", "was_units", "now_units", "delta_units")
    was = sorted(tuple(str(a[k]) for k in key) for a in stored_adj)
    now = sorted(tuple(str(a[k]) for k in key) for a in lines)
    if was != now:
        for x in sorted(set(was) - set(now)):
            diffs.append(f"adjustment recorded but not recomputed: {dict(zip(key, x, strict=True))}")
        for x in sorted(set(now) - set(was)):
            diffs.append(f"adjustment recomputed but not recorded: {dict(zip(key, x, strict=True))}")
    return Verified(run_id, len(stored), len(stored_adj), run["engine_version"], diffs)


def _compare(stored: pd.DataFrame, again: pd.DataFrame, d: int) -> list[str]:
    """Every cell that differs, by rep, period and column (money to the minor unit)."""
    diffs = []
    if list(stored.columns) != list(again.columns):
        diffs.append(f"columns: recorded {list(stored.columns)}, recomputed {list(again.columns)}")
    a = {(str(r["rep_id"]), str(r["period"])): r for r in stored.to_dict("records")}
    b = {(str(r["rep_id"]), str(r["period"])): r for r in again.to_dict("records")}
    for k in sorted(set(a) - set(b)):
        diffs.append(f"rep {k[0]} {k[1]}: recorded, not recomputed")
    for k in sorted(set(b) - set(a)):
        diffs.append(f"rep {k[0]} {k[1]}: recomputed, not recorded")
    for k in sorted(set(a) & set(b)):
        for c in stored.columns:
            if c in ("rep_id", "period") or c not in again.columns:
                continue
            x, y = a[k][c], b[k][c]
            if isinstance(x, float) or isinstance(y, float):
                if units_of(x, d) != units_of(y, d):
                    diffs.append(f"rep {k[0]} {k[1]} {c}: recorded {money_text(units_of(x, d), d)}, "
                                 f"recomputed {money_text(units_of(y, d), d)}")
            elif not (pd.isna(x) and pd.isna(y)) and str(x) != str(y):
                diffs.append(f"rep {k[0]} {k[1]} {c}: recorded {x}, recomputed {y}")
    return diffs
