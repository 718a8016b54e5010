"""The first ledger schema: runs, input blobs, statements, adjustments, lines, closes.

Revision ID: 5f1c0e9a7b21
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5f1c0e9a7b21"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan_name", sa.Text, nullable=False),
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
    )
    op.create_index("ix_runs_plan_name", "runs", ["plan_name"])
    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("content", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "statements",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("rep_id", sa.Text, nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("frozen_from", sa.Integer, nullable=True),
        sa.Column("total_units", sa.BigInteger, nullable=False),
        sa.Column("amounts", sa.JSON, nullable=False),
    )
    op.create_index("ix_statements_run_id", "statements", ["run_id"])
    op.create_index("ix_statements_rep_id", "statements", ["rep_id"])
    op.create_table(
        "adjustments",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("rep_id", sa.Text, nullable=False),
        sa.Column("paid_in", sa.Text, nullable=True),
        sa.Column("corrects_period", sa.Text, nullable=False),
        sa.Column("corrects_run", sa.Integer, nullable=True),
        sa.Column("column", sa.Text, nullable=False),
        sa.Column("was_units", sa.BigInteger, nullable=False),
        sa.Column("now_units", sa.BigInteger, nullable=False),
        sa.Column("delta_units", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_adjustments_run_id", "adjustments", ["run_id"])
    op.create_index("ix_adjustments_rep_id", "adjustments", ["rep_id"])
    op.create_table(
        "lines",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("rep_id", sa.Text, nullable=False),
        sa.Column("period", sa.Text, nullable=True),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_lines_run_id", "lines", ["run_id"])
    op.create_table(
        "closes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("plan_name", sa.Text, nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("frozen_run", sa.Integer, sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("closed_after_run", sa.Integer, nullable=False),
        sa.Column("closed_by", sa.Text, nullable=False),
        sa.Column("closed_at", sa.Text, nullable=False),
        sa.UniqueConstraint("plan_name", "period", name="uq_closes_plan_period"),
    )


def downgrade() -> None:
    for table in ("closes", "lines", "adjustments", "statements", "blobs", "runs"):
        op.drop_table(table)
