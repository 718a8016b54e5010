"""Ledgers for the ledger tests: an SQLite file, and a database on a real PostgreSQL server."""

from __future__ import annotations

import itertools

import pytest

from tests import pg

_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway PostgreSQL cluster for the session (tests/pg.py)."""
    with pg.server() as template:
        yield template


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_url(request, tmp_path) -> str:
    """A new, empty ledger: an SQLite file path, or a fresh database's URL on PostgreSQL."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    template = request.getfixturevalue("postgres_server")
    return pg.create_database(template, f"ledger_{next(_names)}")
