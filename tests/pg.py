"""A real, throwaway PostgreSQL server for the ledger tests.

Debian's ``postgresql`` package provides the binaries (``make test`` installs it when
missing). :func:`server` makes a cluster in a fresh temporary folder with ``initdb`` (as the
``postgres`` user when the tests run as root: the server refuses to run as root), starts it
listening only on a unix socket in that folder, and stops and removes it afterwards. Nothing
is mocked, and nothing outside the folder is touched (no system cluster is used or started).

A missing server is a test failure under CI (``CI`` set), a skip with its reason elsewhere.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PORT = 5432  # the socket lives in the cluster's own folder, so no other server can clash


def binaries() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: Debian's newest version, else ``PATH``'s."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(os.path.realpath(pg_ctl)).parent if pg_ctl else None


def missing(reason: str) -> None:
    """No server: fail under CI (which must install it), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is needed under CI and {reason} (make test installs Debian's postgresql)")
    pytest.skip(f"PostgreSQL tests need Debian's postgresql package: {reason}")


@contextlib.contextmanager
def server() -> Iterator[str]:
    """Start a throwaway cluster; yield its SQLAlchemy URL template (``{db}`` for the database)."""
    bindir = binaries()
    if bindir is None or not (bindir / "initdb").exists():
        missing("initdb and pg_ctl were not found")
    assert bindir is not None
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="incentive-pg-"))
    if os.geteuid() == 0:
        import pwd

        try:
            pg = pwd.getpwnam("postgres")
        except KeyError:
            missing("there is no postgres user to run the server as")
        os.chown(folder, pg.pw_uid, pg.pw_gid)
        as_user = [shutil.which("runuser") or "/usr/sbin/runuser", "-u", "postgres", "--"]
    data = folder / "data"

    def run(*args: object) -> None:
        done = subprocess.run([*as_user, *map(str, args)], capture_output=True, text=True, timeout=120, check=False)
        if done.returncode:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")

    try:
        run(bindir / "initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        run(bindir / "pg_ctl", "-D", data, "-l", folder / "server.log", "-w", "-t", "60", "-o",
            f"-k {folder} -p {PORT} -c listen_addresses='' -c fsync=off -c max_connections=50", "start")
        try:
            yield f"postgresql+psycopg://postgres@/{{db}}?host={folder}&port={PORT}"
        finally:
            run(bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def create_database(template: str, name: str) -> str:
    """Create database ``name`` on the server; its URL."""
    import sqlalchemy as sa

    engine = sa.create_engine(template.format(db="postgres"), isolation_level="AUTOCOMMIT",
                              poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return template.format(db=name)
