"""Alembic environment: runs the migrations on the connection the ledger hands over.

The ledger opens the connection (SQLite or PostgreSQL), takes its write lock and passes the
connection in ``config.attributes["connection"]``; the migrations run inside that
transaction, so two processes opening a new ledger at once cannot both create it.
"""

from __future__ import annotations

from alembic import context

from engine.data.ledger.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
