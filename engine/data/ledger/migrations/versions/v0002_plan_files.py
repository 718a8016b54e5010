"""Runs keep the files their plan reads (a table's `file:`), so that `verify` can recompute them.

Revision ID: 8c2d4e6f1a03
Revises: 5f1c0e9a7b21
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "8c2d4e6f1a03"
down_revision = "5f1c0e9a7b21"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("plan_files", sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("plan_files")
