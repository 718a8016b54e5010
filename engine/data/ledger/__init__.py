"""The ledger of payout runs: what was paid, from what, by whom; closed periods and their
corrections (``incentive payout --ledger``, ``close``, ``history``, ``verify``).

An SQLite file or a PostgreSQL database (SQLAlchemy), its schema kept by Alembic
migrations (``migrations/``). :mod:`.store` opens one; :mod:`.runs` records runs, closes
periods and issues prior-period adjustments; :mod:`.audit` reads a rep's history and
verifies recorded runs.
"""

from engine.data.ledger.audit import RepHistory, Verified, history, verify
from engine.data.ledger.runs import (
    PRIOR,
    Closed,
    InputFile,
    RunResult,
    close_period,
    paid_statements,
    record_run,
)
from engine.data.ledger.store import Ledger, open_ledger

__all__ = [
    "PRIOR",
    "Closed",
    "InputFile",
    "Ledger",
    "RepHistory",
    "RunResult",
    "Verified",
    "close_period",
    "history",
    "open_ledger",
    "paid_statements",
    "record_run",
    "verify",
]
