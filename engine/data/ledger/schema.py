"""The ledger's tables, as SQLAlchemy Core objects for queries.

The database itself is created and upgraded by the Alembic migrations in
``engine/data/ledger/migrations/versions`` (never by ``metadata.create_all``); a test checks
that the migrated schema and these tables agree.

Money is stored exactly: amounts as integers of the currency's minor unit (``*_units``) or,
inside a statement's ``amounts`` document, as decimal text (``"1234.50"``). No float.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["adjustments", "blobs", "closes", "lines", "metadata", "runs", "statements"]

metadata = sa.MetaData()

#: One row per recorded ``payout --ledger`` run.
runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("plan_name", sa.Text, nullable=False, index=True),
    sa.Column("plan_hash", sa.String(64), nullable=False),
    sa.Column("roster_hash", sa.String(64), nullable=False),
    sa.Column("roster_format", sa.Text, nullable=False),
    sa.Column("actuals_hash", sa.String(64), nullable=False),
    sa.Column("actuals_format", sa.Text, nullable=False),
    sa.Column("sheet", sa.Text, nullable=True),
    sa.Column("engine_version", sa.Text, nullable=False),
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.Text, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("minor_unit", sa.Integer, nullable=False),
    sa.Column("columns", sa.JSON, nullable=False),
    sa.Column("parts", sa.JSON, nullable=False),
    sa.Column("plan_files", sa.JSON, nullable=True),  # {path as the plan writes it: sha256} of table files
)

#: Input files (plan text, roster and actuals bytes) by SHA-256, stored once.
blobs = sa.Table(
    "blobs", metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("content", sa.LargeBinary, nullable=False),
)

#: Every statement row a run issued (closed periods: the frozen row, with ``frozen_from``).
statements = sa.Table(
    "statements", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("rep_id", sa.Text, nullable=False, index=True),
    sa.Column("period", sa.Text, nullable=False),
    sa.Column("frozen_from", sa.Integer, nullable=True),
    sa.Column("total_units", sa.BigInteger, nullable=False),
    sa.Column("amounts", sa.JSON, nullable=False),
)

#: Prior-period corrections: one row per rep, corrected period and statement column.
adjustments = sa.Table(
    "adjustments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("rep_id", sa.Text, nullable=False, index=True),
    sa.Column("paid_in", sa.Text, nullable=True),
    sa.Column("corrects_period", sa.Text, nullable=False),
    sa.Column("corrects_run", sa.Integer, nullable=True),
    sa.Column("column", sa.Text, nullable=False),
    sa.Column("was_units", sa.BigInteger, nullable=False),
    sa.Column("now_units", sa.BigInteger, nullable=False),
    sa.Column("delta_units", sa.BigInteger, nullable=False),
)

#: Line-level detail of a run (``payout --lines``): rep, period and the line's columns.
lines = sa.Table(
    "lines", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("rep_id", sa.Text, nullable=False),
    sa.Column("period", sa.Text, nullable=True),
    sa.Column("data", sa.JSON, nullable=False),
)

#: Closed (plan, period) pairs: their statements are those of ``frozen_run``.
closes = sa.Table(
    "closes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("plan_name", sa.Text, nullable=False),
    sa.Column("period", sa.Text, nullable=False),
    sa.Column("frozen_run", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("closed_after_run", sa.Integer, nullable=False),
    sa.Column("closed_by", sa.Text, nullable=False),
    sa.Column("closed_at", sa.Text, nullable=False),
    sa.UniqueConstraint("plan_name", "period", name="uq_closes_plan_period"),
)
