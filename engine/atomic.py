"""Atomic output files: written to a temporary file beside the target, then renamed.

A failure at any point leaves the target as it was (absent, or its previous content) and
no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator, Optional

__all__ = ["atomic_path", "write_text_atomic", "write_table_atomic"]


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary path to write; on success it replaces ``target``."""
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    os.close(fd)
    try:
        yield tmp
        # mkstemp creates the file private (0600); give the output the mode any new file gets.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_text_atomic(target: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 text to ``target`` atomically."""
    with atomic_path(target) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def write_table_atomic(df, target: str | os.PathLike[str], *, fmt: Optional[str] = None,
                       prepare_csv: Optional[Callable] = None) -> None:
    """Write a DataFrame atomically as CSV (default), Excel (.xlsx) or Parquet, by suffix.

    Args:
        df: the table.
        target: the output path.
        fmt: ``csv``, ``xlsx`` or ``parquet`` (default: from the suffix).
        prepare_csv: turns the table into what the CSV should show (e.g. exact money text).
    """
    fmt = fmt or Path(target).suffix.lower().lstrip(".") or "csv"
    with atomic_path(target) as tmp:
        if fmt in ("xlsx", "xlsm"):
            df.to_excel(tmp, index=False, engine="openpyxl")
        elif fmt in ("parquet", "pq"):
            df.to_parquet(tmp, index=False)
        else:
            (prepare_csv(df) if prepare_csv else df).to_csv(tmp, index=False)
