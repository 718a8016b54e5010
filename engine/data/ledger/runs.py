"""Runs in the ledger: record a payout run, close a period, correct closed periods.

**Recording.** :func:`record_run` stores, in one transaction holding the ledger's lock, the
plan text and the roster and actuals files exactly as given (by SHA-256, once each), the
engine version, who and when, every statement row the run issued and its lines. Nothing
else about the inputs is kept: no path, no host, no column the files did not have.

**Closing.** :func:`close_period` freezes a plan's period: its statements are, from then on,
those of the latest run that had it (``frozen_run``).

**Prior-period adjustments.** A run's statements are first computed from its data as a
first run would (the plan's true-up, draws and caps applied to the whole, corrected
history). A closed period keeps its frozen statement; for each rep and statement column
the difference between the corrected amount and what was paid for it (the frozen amount
plus corrections already paid for it in closed periods) is paid in the rep's first open
period of the run, in the column ``prior_periods`` (part of ``total``), with one adjustment
line per corrected period and column. So after the adjustment the rep has been paid, in
all, what a correct first run would have paid. A rep with no open period in the run has
the adjustment pending (``paid_in`` empty) until a run has one.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from engine.core.errors import DataError
from engine.data.ledger import schema as t
from engine.data.ledger.store import Ledger

__all__ = [
    "KEYS",
    "PRIOR",
    "InputFile",
    "RunResult",
    "close_period",
    "engine_version",
    "issued_statements",
    "paid_statements",
    "record_run",
    "who",
    "write_issued",
]

#: The statement column of prior-period corrections (part of ``total``).
PRIOR = "prior_periods"
#: Columns that identify a statement row rather than hold an amount.
KEYS = ("rep_id", "period")
#: Columns of a statement that are not money even when numeric.
NOT_MONEY = ("rep_id", "period", "currency", "grade")


def who() -> str:
    """The user recording a run or closing a period (the login name, else ``$USER``)."""
    import os

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER", "unknown")


def engine_version() -> str:
    """The installed engine's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("incentive-engine")
    except PackageNotFoundError:  # pragma: no cover - a source tree on sys.path only
        return "unknown"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class InputFile:
    """One input file's bytes and format (its suffix), as the ledger keeps it."""

    content: bytes
    fmt: str

    @classmethod
    def read(cls, path: str | Path, role: str) -> InputFile:
        """Read a roster, actuals or plan file (a clean error when it cannot be read)."""
        p = Path(path)
        try:
            content = p.read_bytes()
        except OSError as exc:
            raise DataError("unreadable-file", f"cannot read the {role} {path}: {exc.strerror or exc}",
                            file=str(path)) from None
        return cls(content, p.suffix.lower().lstrip(".") or "csv")

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class RunResult:
    """A recorded run.

    Attributes:
        run_id: its number in the ledger.
        plan_name: the plan's ``plan:`` name.
        statements: the statements as issued (closed periods: as they were frozen; the
            first open period: with ``prior_periods``).
        adjustments: one row per rep, corrected period and column: ``rep_id``, ``paid_in``
            (empty: pending), ``corrects_period``, ``corrects_run``, ``column``, ``was``,
            ``now``, ``delta`` (money).
        closed: the closed periods of the plan this run saw.
        ledger: the ledger as messages name it (a URL without its password).
    """

    run_id: int
    plan_name: str
    statements: pd.DataFrame
    adjustments: pd.DataFrame
    closed: tuple[str, ...] = field(default=())
    ledger: str = ""

    @property
    def pending(self) -> pd.DataFrame:
        """The adjustments no open period of the run could pay."""
        return self.adjustments[self.adjustments["paid_in"].isna()]

    def adjustment_lines(self) -> pd.DataFrame:
        """The paid adjustments as statement lines, for a ``--lines`` file: ``rep_id``,
        ``period`` (where paid), ``line`` (``prior_periods``), the period, run and column
        they correct, and the amount in the column ``prior_periods``."""
        paid = self.adjustments[self.adjustments["paid_in"].notna()]
        return pd.DataFrame({"rep_id": paid["rep_id"], "period": paid["paid_in"], "line": PRIOR,
                             "corrects_period": paid["corrects_period"], "corrects_run": paid["corrects_run"],
                             "corrects_column": paid["column"], PRIOR: paid["delta"]}).reset_index(drop=True)


# -- exact money -------------------------------------------------------------------------------


def units_of(value: object, d: int) -> int:
    """Minor units of a rounded amount (a float from a statement, or decimal text)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 0
    if isinstance(value, str):
        return int(Decimal(value).scaleb(d))
    return round(float(value) * 10 ** d)  # type: ignore[arg-type]


def money_text(units: int, d: int) -> str:
    """Exact decimal text of minor units (``123450, 2 -> '1234.50'``)."""
    return str(Decimal(int(units)).scaleb(-d).quantize(Decimal(1).scaleb(-d)))


def _money_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in NOT_MONEY and pd.api.types.is_numeric_dtype(df[c])]


def _json_value(v: object) -> object:
    """A cell of a statement or line as JSON keeps it (exactly: floats by their repr)."""
    if v is None:
        return None
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(float(v)) else repr(float(v))
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return int(v)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (pd.Timestamp, dt.date)):
        return v.isoformat()
    try:
        if pd.isna(v):  # type: ignore[call-overload]
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def _row_document(row: dict, money: list[str], d: int) -> dict:
    return {c: (money_text(units_of(v, d), d) if c in money else _json_value(v))
            for c, v in row.items() if c not in KEYS}


# -- issuing: frozen periods and prior-period adjustments -------------------------------------------


def _closed(conn: Connection, plan_name: str, before_run: int) -> dict[str, int]:
    """Closed period -> frozen run, as the ledger stood before run ``before_run``."""
    q = sa.select(t.closes.c.period, t.closes.c.frozen_run).where(
        t.closes.c.plan_name == plan_name, t.closes.c.closed_after_run < before_run)
    return {p: r for p, r in conn.execute(q)}


def _issue(conn: Connection, plan_name: str, fresh: pd.DataFrame, parts: list[str], d: int,
           before_run: int) -> tuple[pd.DataFrame, list[dict], dict[str, int]]:
    """The statements a run issues from its freshly computed ones, and its adjustments."""
    closed = _closed(conn, plan_name, before_run)
    in_run = set(fresh["period"].astype(str))
    frozen_runs = {p: r for p, r in closed.items() if p in in_run}
    frozen: dict[tuple[str, str], dict] = {}
    for p, r in frozen_runs.items():
        q = sa.select(t.statements.c.rep_id, t.statements.c.amounts).where(
            t.statements.c.run_id == r, t.statements.c.period == p)
        for rep, amounts in conn.execute(q):
            frozen[(rep, p)] = amounts
    frozen_parts = {r: list(ps) for r, ps in conn.execute(
        sa.select(t.runs.c.id, t.runs.c.parts).where(t.runs.c.id.in_(set(frozen_runs.values()) or {-1})))}
    # Corrections already paid for a period, inside the frozen statements of closed periods.
    already: dict[tuple[str, str, str], int] = defaultdict(int)
    for p, r in closed.items():
        q = sa.select(t.adjustments.c.rep_id, t.adjustments.c.corrects_period, t.adjustments.c.column,
                      t.adjustments.c.delta_units).where(t.adjustments.c.run_id == r, t.adjustments.c.paid_in == p)
        for a in conn.execute(q):
            already[(str(a[0]), str(a[1]), str(a[2]))] += int(a[3])

    money = _money_columns(fresh)
    records = fresh.to_dict("records")
    fresh_units = {(str(row["rep_id"]), str(row["period"])): {c: units_of(row[c], d) for c in money}
                   for row in records}
    lines: list[dict] = []
    for p in sorted(frozen_runs):
        reps = sorted({rep for rep, q in fresh_units if q == p} | {rep for rep, q in frozen if q == p})
        was_parts = parts + [c for c in frozen_parts.get(frozen_runs[p], []) if c not in parts]
        for rep in reps:
            now_row = fresh_units.get((rep, p), {})
            was_row = frozen.get((rep, p), {})
            for col in was_parts:
                now_u = now_row.get(col, 0)
                was_u = units_of(was_row.get(col), d) + already[(rep, p, col)]
                if now_u != was_u:
                    lines.append({"rep_id": rep, "paid_in": None, "corrects_period": p,
                                  "corrects_run": frozen_runs[p], "column": col, "was_units": was_u,
                                  "now_units": now_u, "delta_units": now_u - was_u})

    # The issued table: open periods as computed, closed ones as frozen, then the corrections.
    columns = list(fresh.columns)
    at = columns.index("total") if "total" in columns else len(columns)
    columns.insert(at, PRIOR)
    money_out = [*money, PRIOR]
    rows: list[dict] = []
    for row in records:
        if str(row["period"]) not in frozen_runs:
            rows.append({**row, PRIOR: 0.0, "_frozen": None})
    for (rep, p), amounts in frozen.items():
        row = {"rep_id": rep, "period": p}
        for c in columns[2:]:
            v = amounts.get(c)
            row[c] = units_of(v, d) / 10 ** d if c in money_out else v
        rows.append({**row, "_frozen": frozen_runs[p]})
    order = {rep: i for i, rep in enumerate(dict.fromkeys([str(r["rep_id"]) for r in records]))}
    rows.sort(key=lambda r: (order.get(str(r["rep_id"]), len(order)), str(r["rep_id"]), str(r["period"])))
    first_open: dict[str, int] = {}
    for i, row in enumerate(rows):
        if row["_frozen"] is None and str(row["rep_id"]) not in first_open:
            first_open[str(row["rep_id"])] = i
    for line in lines:
        at_row = first_open.get(line["rep_id"])
        if at_row is None:
            continue  # pending: no open period of the rep in this run
        row = rows[at_row]
        line["paid_in"] = str(row["period"])
        for c in (PRIOR, "total", "total_pay"):
            if c in row:
                row[c] = (units_of(row[c], d) + line["delta_units"]) / 10 ** d
    frozen_from = {i: row.pop("_frozen") for i, row in enumerate(rows)}
    issued = pd.DataFrame(rows, columns=columns)
    for c in money_out:
        issued[c] = issued[c].astype(float)
    issued.attrs["frozen_from"] = frozen_from
    return issued, lines, closed


def record_run(ledger: Ledger, checked, plan_text: str, roster: InputFile, actuals: InputFile,
               fresh: pd.DataFrame, *, sheet: str | int | None = None, lines: pd.DataFrame | None = None,
               before_commit: Callable[[pd.DataFrame], None] | None = None) -> RunResult:
    """Record a payout run and issue its statements, in one transaction.

    Args:
        ledger: the open ledger.
        checked: the validated plan.
        plan_text: the plan file's text (stored, for ``verify``; ``checked.source``).
        roster: the roster file as given.
        actuals: the actuals file as given.
        fresh: the statements computed from these inputs (:func:`engine.data.statements.statements`).
        sheet: the Excel sheet the inputs were read from.
        lines: line-level detail (``rep_id``, ``period`` and any columns), stored with the run.
        before_commit: called with the issued statements before the transaction commits (an
            exception there, as a failure anywhere, leaves the ledger as it was).

    Returns:
        The :class:`RunResult`.
    """
    plan = checked.plan
    d = plan.minor_unit
    parts = [c.name for c in plan.components] + ["adjustment"]
    plan_blob = InputFile(plan_text.encode("utf-8"), "yaml")
    # The files the plan reads (tables' `file:`), kept by their path as the plan writes it.
    files = {tb.file: InputFile(Path(tb.source).read_bytes(), Path(tb.source).suffix.lstrip(".") or "csv")
             for tb in plan.tables if tb.file}
    with ledger.transaction() as conn:
        run_id = conn.execute(t.runs.insert().values(  # type: ignore[index]
            plan_name=plan.name, plan_hash=plan_blob.sha256, roster_hash=roster.sha256, roster_format=roster.fmt,
            actuals_hash=actuals.sha256, actuals_format=actuals.fmt, sheet=None if sheet is None else str(sheet),
            engine_version=engine_version(), recorded_by=who(), recorded_at=_now(), currency=plan.currency,
            minor_unit=d, columns=[], parts=parts,
            plan_files={k: f.sha256 for k, f in files.items()} or None)).inserted_primary_key[0]
        issued, adj, closed = _issue(conn, plan.name, fresh, parts, d, run_id)
        conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(columns=list(issued.columns)))
        for blob in (plan_blob, roster, actuals, *files.values()):
            if conn.execute(sa.select(t.blobs.c.sha256).where(t.blobs.c.sha256 == blob.sha256)).first() is None:
                conn.execute(t.blobs.insert().values(sha256=blob.sha256, content=blob.content))
        money = _money_columns(issued)
        frozen_from = issued.attrs.get("frozen_from", {})
        conn.execute(t.statements.insert(), [
            {"run_id": run_id, "rep_id": str(row["rep_id"]), "period": str(row["period"]),
             "frozen_from": frozen_from.get(i), "total_units": units_of(row["total"], d),
             "amounts": _row_document(row, money, d)}
            for i, row in enumerate(issued.to_dict("records"))])
        if adj:
            conn.execute(t.adjustments.insert(), [{**a, "run_id": run_id} for a in adj])
        if lines is not None and len(lines):
            conn.execute(t.lines.insert(), [
                {"run_id": run_id, "rep_id": str(row["rep_id"]),
                 "period": None if pd.isna(row.get("period")) else str(row["period"]),
                 "data": {c: _json_value(v) for c, v in row.items() if c not in KEYS}}
                for row in lines.to_dict("records")])
        if before_commit is not None:
            before_commit(issued)
    return RunResult(int(run_id), plan.name, issued, adjustment_frame(adj, d), tuple(sorted(closed)), ledger.name)


def adjustment_frame(adj: list[dict], d: int) -> pd.DataFrame:
    """Adjustment rows as a table, money in the currency's unit."""
    cols = ["rep_id", "paid_in", "corrects_period", "corrects_run", "column", "was", "now", "delta"]
    return pd.DataFrame([{**{k: a[k] for k in cols[:5]}, "was": a["was_units"] / 10 ** d,
                          "now": a["now_units"] / 10 ** d, "delta": a["delta_units"] / 10 ** d} for a in adj],
                        columns=cols)


# -- closing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Closed:
    """A closed period: ``already`` when it was closed before this call."""

    plan_name: str
    period: str
    frozen_run: int
    closed_by: str
    closed_at: str
    already: bool


def _plans(conn: Connection) -> list[str]:
    return sorted({r[0] for r in conn.execute(sa.select(t.runs.c.plan_name).distinct())})


def _periods(conn: Connection, plan_name: str) -> list[str]:
    q = (sa.select(t.statements.c.period).distinct()
         .join(t.runs, t.runs.c.id == t.statements.c.run_id).where(t.runs.c.plan_name == plan_name))
    return sorted(r[0] for r in conn.execute(q))


def _unknown_plan(ledger: Ledger, conn: Connection, plan_name: str) -> DataError:
    from engine.core.text import did_you_mean

    plans = _plans(conn)
    hint = did_you_mean(plan_name, plans) if plans else None
    return DataError("unknown-plan", f"the ledger has no run of plan '{plan_name}'"
                     + (f" (it has: {', '.join(plans)})" if plans else " (it has no run yet)"),
                     file=ledger.name, hint=hint)


def close_period(ledger: Ledger, plan_name: str, period: str, by: str | None = None) -> Closed:
    """Close ``period`` of plan ``plan_name``: its statements become those of the latest run.

    Closing a closed period changes nothing (``already`` is then true).

    Raises:
        DataError: ``unknown-plan`` or ``unknown-period`` (no run of the plan has it).
    """
    with ledger.transaction() as conn:
        q = sa.select(t.closes).where(t.closes.c.plan_name == plan_name, t.closes.c.period == period)
        row = conn.execute(q).mappings().first()
        if row is not None:
            return Closed(plan_name, period, row["frozen_run"], row["closed_by"], row["closed_at"], True)
        if plan_name not in _plans(conn):
            raise _unknown_plan(ledger, conn, plan_name)
        frozen = conn.execute(
            sa.select(sa.func.max(t.statements.c.run_id)).join(t.runs, t.runs.c.id == t.statements.c.run_id)
            .where(t.runs.c.plan_name == plan_name, t.statements.c.period == period)).scalar()
        if frozen is None:
            from engine.core.text import did_you_mean

            known = _periods(conn, plan_name)
            raise DataError("unknown-period", f"no run of plan '{plan_name}' has the period {period} "
                            f"(its runs have: {', '.join(known)})", file=ledger.name,
                            hint=did_you_mean(period, known))
        last = conn.execute(sa.select(sa.func.max(t.runs.c.id))).scalar()
        by = by or who()
        at = _now()
        conn.execute(t.closes.insert().values(plan_name=plan_name, period=period, frozen_run=frozen,
                                              closed_after_run=last, closed_by=by, closed_at=at))
    return Closed(plan_name, period, int(frozen), by, at, False)


# -- reading -------------------------------------------------------------------------------------


def issued_statements(conn: Connection, run_id: int) -> pd.DataFrame:
    """The statements run ``run_id`` issued, as a table (money as float of exact cents)."""
    run = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).mappings().first()
    if run is None:
        raise KeyError(run_id)
    d = run["minor_unit"]
    columns = list(run["columns"])
    rows = []
    q = sa.select(t.statements.c.rep_id, t.statements.c.period, t.statements.c.amounts).where(
        t.statements.c.run_id == run_id).order_by(t.statements.c.id)
    for rep, period, amounts in conn.execute(q):
        rows.append({"rep_id": rep, "period": period, **amounts})
    df = pd.DataFrame(rows, columns=columns)
    for c in columns:
        if c not in NOT_MONEY:
            df[c] = [units_of(v, d) / 10 ** d for v in df[c]]
    return df


def paid_statements(ledger: Ledger, plan_name: str) -> pd.DataFrame:
    """What the ledger says each rep was paid for each period of a plan: the statement of the
    latest run that has the rep and period (``prior_periods`` included in ``total``).

    Returns:
        ``rep_id``, ``period``, ``total`` (float of exact minor units), ``run_id``.

    Raises:
        DataError: ``unknown-plan`` when the ledger has no run of the plan.
    """
    with ledger.transaction() as conn:
        if plan_name not in _plans(conn):
            raise _unknown_plan(ledger, conn, plan_name)
        latest = (sa.select(t.statements.c.rep_id, t.statements.c.period,
                            sa.func.max(t.statements.c.run_id).label("run_id"))
                  .join(t.runs, t.runs.c.id == t.statements.c.run_id).where(t.runs.c.plan_name == plan_name)
                  .group_by(t.statements.c.rep_id, t.statements.c.period).subquery())
        q = (sa.select(t.statements.c.rep_id, t.statements.c.period, t.statements.c.total_units,
                       t.statements.c.run_id, t.runs.c.minor_unit)
             .join(latest, sa.and_(latest.c.rep_id == t.statements.c.rep_id, latest.c.period == t.statements.c.period,
                                   latest.c.run_id == t.statements.c.run_id))
             .join(t.runs, t.runs.c.id == t.statements.c.run_id)
             .order_by(t.statements.c.rep_id, t.statements.c.period))
        rows = [{"rep_id": rep, "period": p, "total": units / 10 ** d, "run_id": run}
                for rep, p, units, run, d in conn.execute(q)]
    return pd.DataFrame(rows, columns=["rep_id", "period", "total", "run_id"])


def blob(conn: Connection, sha256: str) -> bytes:
    """A stored input file's bytes."""
    content = conn.execute(sa.select(t.blobs.c.content).where(t.blobs.c.sha256 == sha256)).scalar()
    if content is None:  # pragma: no cover - every run stores its blobs
        raise KeyError(sha256)
    return bytes(content)


def write_issued(df: pd.DataFrame, minor_unit: int, path: str) -> None:
    """Write issued statements as ``write_statements`` does: every money column (``prior_periods``
    included) as exact decimal text in a CSV."""
    from engine.core.atomic import table_format, write_table

    money = _money_columns(df)

    def exact(table: pd.DataFrame) -> pd.DataFrame:
        out = table.copy()
        for c in money:
            out[c] = [money_text(units_of(v, minor_unit), minor_unit) for v in out[c]]
        return out

    write_table(df, path, table_format(path), exact)
