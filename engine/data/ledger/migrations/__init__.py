"""Alembic migrations of the ledger's schema (applied by :func:`engine.data.ledger.store.open_ledger`)."""
