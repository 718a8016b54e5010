"""Opening a ledger: where it is, whether it is one, its schema, and its write lock.

A ledger is an SQLite file (a path) or a database server (an SQLAlchemy URL such as
``postgresql://user@host/db``; ``postgresql://`` means the psycopg 3 driver). Opening one

1. refuses, without writing a byte, a file that is not an SQLite database (text, random
   bytes) and a database that holds tables but no ledger (another application's);
2. brings the schema to the current revision with the package's Alembic migrations, and
   refuses a ledger written by a newer engine (a revision this engine does not know);
3. hands out transactions that hold the ledger's write lock from their first statement
   (SQLite ``BEGIN IMMEDIATE``; PostgreSQL a transaction-level advisory lock), so that two
   runs against one ledger never interleave: the second waits for the first to commit.

Every database failure becomes a :class:`~engine.core.errors.DataError` naming the ledger.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from typing_extensions import Self

from engine.core.errors import DataError

__all__ = ["LOCK_KEY", "Ledger", "alembic_config", "open_ledger"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: The PostgreSQL advisory lock every write transaction takes (any constant: "incentive").
LOCK_KEY = 0x696E63656E
SQLITE_MAGIC = b"SQLite format 3\x00"
#: Seconds a run waits for another run's lock before giving up.
LOCK_TIMEOUT = 600.0


def _is_url(target: str) -> bool:
    return "://" in target


def _display(target: str) -> str:
    """The ledger as messages name it (a URL without its password)."""
    if not _is_url(target):
        return target
    try:
        return sa.engine.make_url(target).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is reported as given
        return target


def _not_a_ledger(target: str, why: str, hint: str | None = None) -> DataError:
    return DataError("not-a-ledger", f"{_display(target)} is not a ledger: {why}", file=_display(target),
                     hint=hint or "name an existing ledger, or a new file for `payout --ledger` to create")


def _heads() -> tuple[set[str], str]:
    """Every revision this engine knows, and the newest."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return {r.revision for r in script.walk_revisions()}, head


def _probe_sqlite(path: Path, target: str) -> None:
    """Refuse, reading only, a file that is not an SQLite ledger."""
    if path.is_dir():
        raise _not_a_ledger(target, "it is a folder")
    try:
        with open(path, "rb") as fh:
            magic = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise DataError("unreadable-file", f"cannot read the ledger {target}: {exc.strerror or exc}",
                        file=target) from None
    if not magic:
        return  # an empty file is an empty database: the ledger is created in it
    if magic != SQLITE_MAGIC:
        raise _not_a_ledger(target, "not an SQLite database (a text file, or damaged)")
    known, _ = _heads()
    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                                timeout=LOCK_TIMEOUT)) as db:
            names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            version = list(db.execute("SELECT version_num FROM alembic_version")) \
                if "alembic_version" in names else []
    except sqlite3.DatabaseError as exc:
        if "readonly" in str(exc) or "locked" in str(exc):
            # A run killed mid-way left its rollback journal (only a writer can undo it), or
            # another run holds the lock: the tables are checked again, under the lock and
            # before any change of ours.
            return
        raise _not_a_ledger(target, f"the database cannot be read ({exc})") from None
    _check_tables(target, names, [v[0] for v in version], known)


def _check_tables(target: str, names: set[str], versions: list[str], known: set[str]) -> None:
    if not names:
        return
    if "alembic_version" not in names or not versions:
        raise _not_a_ledger(target, f"it holds other tables ({', '.join(sorted(names)[:5])}) and no ledger schema")
    unknown = [v for v in versions if v not in known]
    if unknown:
        raise _not_a_ledger(target, f"its schema revision {unknown[0]} is not one of this engine's "
                                    "(another application's database, or a ledger written by a newer engine)",
                            hint="upgrade the engine, or give another ledger")
    if not {"runs", "statements", "closes"} <= names:
        raise _not_a_ledger(target, "its ledger tables are missing")


def _sqlite_file(target: str) -> str | None:
    """The file of an SQLite ledger (a path, or an ``sqlite:///`` URL), else None."""
    if not _is_url(target):
        return target
    try:
        url = sa.engine.make_url(target)
    except sa.exc.ArgumentError:
        return None
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return url.database
    return None


def alembic_config(connection: Connection | None = None):
    """The Alembic configuration of the ledger's migrations, built in code (there is no
    ``alembic.ini``). A new schema revision is written with it, against a current ledger::

        from alembic import command
        from engine.data.ledger import open_ledger
        from engine.data.ledger.store import alembic_config
        with open_ledger("dev.db") as book, book.transaction() as conn:
            command.revision(alembic_config(conn), "add a column", autogenerate=True)

    then renamed ``vNNNN_what.py`` in ``migrations/versions/`` and reviewed by hand.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _engine_for(target: str) -> Engine:
    file = _sqlite_file(target)
    if file is not None:
        engine = sa.create_engine(f"sqlite:///{Path(file).resolve()}", poolclass=sa.pool.NullPool,
                                  connect_args={"timeout": LOCK_TIMEOUT})
        _immediate(engine)
        return engine
    url = sa.engine.make_url(target)
    if url.get_backend_name() != "postgresql":
        raise sa.exc.ArgumentError(f"a ledger is an SQLite file or a PostgreSQL database, not {url.get_backend_name()}")
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)

    @sa.event.listens_for(engine, "begin")
    def _lock(conn: Connection) -> None:
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({LOCK_KEY})")

    return engine


def _immediate(engine: Engine) -> None:
    """SQLite: the driver leaves transactions to us; each begins holding the write lock."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn, record) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA foreign_keys = ON")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Ledger:
    """An open ledger: :meth:`transaction` gives a connection holding the write lock.

    Attributes:
        target: the path or URL as given.
        name: how messages name it (a URL without its password).
    """

    def __init__(self, target: str, engine: Engine):
        self.target = target
        self.name = _display(target)
        self.engine = engine
        self.new = False  # no schema yet: the first transaction creates it, all or nothing

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction holding the ledger's lock: committed when the block ends, rolled
        back on any error (a process killed inside it leaves the ledger as it was). In a new
        ledger the first transaction also creates the schema, so that a first run that fails
        leaves no half-made ledger."""
        making = self.new
        try:
            with self.engine.begin() as conn:
                if making:
                    _prepare(self, conn, create=True)
                yield conn
            if making:
                self.new = False
        except sa.exc.DBAPIError as exc:
            raise DataError("ledger-failed", f"the ledger {self.name} failed: {_reason(exc)}",
                            file=self.name) from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _reason(exc: sa.exc.DBAPIError) -> str:
    text = str(exc.orig).strip().splitlines()
    return text[0] if text else type(exc.orig).__name__


def open_ledger(target: str | os.PathLike[str], *, create: bool = True) -> Ledger:
    """Open (and with ``create``, make) a ledger, its schema at the current revision.

    Args:
        target: an SQLite file path, or an SQLAlchemy URL (``postgresql://...``).
        create: make a new ledger where there is none (``payout``); without it a missing
            ledger is an error (``close``, ``history``, ``verify``, ``forecast``).

    Raises:
        DataError: ``not-a-ledger`` (a foreign or damaged file or database, or a newer
            schema), ``no-ledger`` (missing, without ``create``), ``cannot-write``,
            ``ledger-failed`` (the server cannot be reached, or refuses).
    """
    target = os.fspath(target)
    file = _sqlite_file(target)
    if file is not None:
        path = Path(file)
        if path.exists():
            _probe_sqlite(path, target)
        elif not create:
            raise DataError("no-ledger", f"there is no ledger at {target}", file=target,
                            hint="record a run first: incentive payout PLAN ... --ledger " + target)
        else:
            from engine.core.atomic import check_writable

            check_writable(target, "--ledger")
            path.parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = _engine_for(target)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise DataError("not-a-ledger", f"cannot use the ledger URL {_display(target)}: {exc}",
                        file=_display(target), hint="a file path, or a URL such as postgresql://user@host/db") from None
    ledger = Ledger(target, engine)
    if file is not None and not Path(file).exists():
        ledger.new = True  # the file and its schema are made by the first transaction
        return ledger
    try:
        with ledger.transaction() as conn:
            ledger.new = not _prepare(ledger, conn, create, defer=create)
    except BaseException:
        ledger.close()
        raise
    return ledger


def _prepare(ledger: Ledger, conn: Connection, create: bool, defer: bool = False) -> bool:
    """Check the schema and bring it to the newest revision, under the lock; refuse foreign
    databases. With ``defer``, an empty database is left empty (False: no schema yet)."""
    from alembic import command

    known, head = _heads()
    names = set(sa.inspect(conn).get_table_names())
    versions = [r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")] \
        if "alembic_version" in names else []
    _check_tables(ledger.target, names, versions, known)
    if versions == [head]:
        return True
    if not names and not create:
        raise DataError("no-ledger", f"there is no ledger at {ledger.name}", file=ledger.name,
                        hint="record a run first: incentive payout PLAN ... --ledger " + ledger.target)
    if not names and defer:
        return False
    command.upgrade(alembic_config(conn), "head")
    now = [r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
    if now != [head]:  # pragma: no cover - alembic failed silently
        raise _not_a_ledger(ledger.target, f"its schema is at {now}, expected {head}")
    return True
