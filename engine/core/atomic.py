"""Atomic output files: written to a temporary file beside the target, then renamed.

A failure at any point leaves the target as it was (absent, or its previous content) and
no temporary file behind. What is not ours to replace is not replaced:

* a target that is not a regular file (``/dev/stdout``, ``/dev/full``, a named pipe) is
  written to directly, as any program writes to a device;
* a symbolic link is followed: its target is replaced, the link stays a link.

:func:`check_writable` says up front, before any work, whether an output path can be
written; :class:`AtomicGroup` writes several outputs all or nothing (a command whose second
output fails does not leave its first one written). Failures to write are
:class:`~engine.core.errors.DataError` (``cannot-write``), so the command line reports them
cleanly.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Literal

from typing_extensions import Self

from engine.core.errors import DataError

__all__ = [
    "TABLE_FORMATS",
    "AtomicGroup",
    "atomic_path",
    "check_writable",
    "write_table_atomic",
    "write_text_atomic",
]

#: Table formats by file suffix.
TABLE_FORMATS = {"csv": "csv", "txt": "csv", "xlsx": "xlsx", "xlsm": "xlsx", "parquet": "parquet", "pq": "parquet"}


def _cannot_write(path: str | os.PathLike[str], reason: str, option: str | None = None) -> DataError:
    what = f"{option} " if option else ""
    return DataError("cannot-write", f"cannot write {what}{os.fspath(path)}: {reason}", file=os.fspath(path),
                     hint="choose a path in a folder that exists and that you may write to")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) if exc.errno is not None else str(exc)


def _special(path: Path) -> bool:
    """Whether ``path`` exists and is not a regular file (a device, a pipe, a socket)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def check_writable(target: str | os.PathLike[str], option: str | None = None,
                   formats: dict[str, str] | None = None) -> None:
    """Raise a clean error now if ``target`` cannot be written later.

    Args:
        target: the output path.
        option: the option that named it (``--out``), for the message.
        formats: when given, the suffixes allowed (suffix -> format); another suffix is an
            error (no suffix is allowed: such a table is written as CSV).
    """
    path = Path(target) if _special(Path(target)) else Path(os.path.realpath(target))
    if formats is not None:
        suffix = path.suffix.lower().lstrip(".")
        if suffix and suffix not in formats and not _special(path):
            allowed = ", ".join(f".{s}" for s in sorted(formats))
            raise DataError("unknown-format", f"cannot tell the format of {os.fspath(target)} from its suffix "
                            f"'{path.suffix or '(none)'}'", file=os.fspath(target), hint=f"use one of {allowed}")
    if path.is_dir():
        raise _cannot_write(target, "it is a folder", option)
    if _special(path):
        if not os.access(path, os.W_OK):
            raise _cannot_write(target, "permission denied", option)
        return
    parent = path.parent
    while not parent.exists():  # folders are made on writing: the nearest existing one must take them
        parent = parent.parent
    if not parent.is_dir():
        raise _cannot_write(target, f"{parent} is not a folder", option)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _cannot_write(target, f"permission denied in {parent}", option)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary path to write; on success it replaces ``target``.

    The temporary file keeps the target's suffix (writers that choose a format by suffix,
    such as Excel's, see the right one). A device or pipe is written in place; a symbolic
    link's target is replaced. An ``OSError`` while writing becomes a ``cannot-write``
    :class:`~engine.core.errors.DataError`.
    """
    with AtomicGroup() as group:
        yield group.path(target)


class AtomicGroup:
    """Several output files written all or nothing.

    ``path(target)`` gives a temporary path for each target; when the ``with`` block ends
    without an error every temporary replaces its target; on any error none does and every
    temporary is removed.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[str, Path]] = []
        self._made: list[str] = []
        self._targets: list[str] = []

    def path(self, target: str | os.PathLike[str]) -> str:
        """The path to write for ``target`` (the target itself for a device or pipe)."""
        self._targets.append(os.fspath(target))
        if _special(Path(target)):  # /dev/stdout is a link to a pipe that realpath cannot name
            return os.fspath(target)
        real = Path(os.path.realpath(target))
        try:
            real.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{real.stem}.", suffix=f".tmp{real.suffix}", dir=str(real.parent))
        except OSError as exc:
            raise _cannot_write(target, _reason(exc)) from None
        os.close(fd)
        self._made.append(tmp)
        self._pending.append((tmp, real))
        return tmp

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        if kind is None:
            try:
                self._commit()
            except OSError as error:
                self._discard()
                raise _cannot_write(error.filename or self._where(), _reason(error)) from None
            return False
        self._discard()
        if isinstance(exc, OSError):  # a full disk, a device that refuses, a pipe that cannot seek...
            raise _cannot_write(self._where(exc.filename), _reason(exc)) from None
        return False

    def _where(self, filename: str | os.PathLike[str] | None = None) -> str:
        """The target a failure is about (a temporary's name is reported as its target's)."""
        for tmp, real in self._pending:
            if filename is not None and os.fspath(filename) == tmp:
                return os.fspath(real)
        if filename is not None and os.fspath(filename) not in self._made:
            return os.fspath(filename)
        return self._targets[-1] if self._targets else "output"

    def _commit(self) -> None:
        # mkstemp creates the file private (0600); give the output the mode any new file gets.
        umask = os.umask(0)
        os.umask(umask)
        for tmp, _ in self._pending:
            os.chmod(tmp, 0o666 & ~umask)
        for tmp, real in self._pending:
            os.replace(tmp, real)
            self._made.remove(tmp)

    def _discard(self) -> None:
        for tmp in self._made:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        self._made.clear()


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 text to ``target`` atomically."""
    with atomic_path(target) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def table_format(target: str | os.PathLike[str]) -> str:
    """``csv``, ``xlsx`` or ``parquet`` from the target's suffix (CSV where it has none)."""
    suffix = Path(target).suffix.lower().lstrip(".")
    return TABLE_FORMATS.get(suffix, "csv")


def write_table(df, path: str | os.PathLike[str], fmt: str, prepare_csv: Callable | None = None) -> None:
    """Write a DataFrame to ``path`` (not atomically) as ``csv``, ``xlsx`` or ``parquet``."""
    if fmt == "xlsx":
        df.to_excel(path, index=False, engine="openpyxl")
    elif fmt == "parquet":
        df.to_parquet(path, index=False)
    else:
        (prepare_csv(df) if prepare_csv else df).to_csv(path, index=False)


def write_table_atomic(df, target: str | os.PathLike[str], *, fmt: str | None = None,
                       prepare_csv: Callable | None = None, group: AtomicGroup | None = None) -> None:
    """Write a DataFrame atomically as CSV (default), Excel (.xlsx) or Parquet, by suffix.

    Args:
        df: the table.
        target: the output path.
        fmt: ``csv``, ``xlsx`` or ``parquet`` (default: from the suffix).
        prepare_csv: turns the table into what the CSV should show (e.g. exact money text).
        group: write as part of this :class:`AtomicGroup` (committed with its other files).
    """
    fmt = TABLE_FORMATS.get(fmt, fmt) if fmt else table_format(target)
    if group is not None:
        write_table(df, group.path(target), fmt, prepare_csv)
        return
    with atomic_path(target) as tmp:
        write_table(df, tmp, fmt, prepare_csv)
