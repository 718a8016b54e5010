"""Text helpers every layer shares: the "did you mean" suggestion, how a missing value,
an amount of money and a share read in every table, report and message, and the display width
of text in a terminal (a Chinese character takes two columns; ``wcwidth`` knows which do)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence

from wcwidth import wcswidth, wcwidth

__all__ = ["MISSING", "did_you_mean", "display_width", "is_missing", "ljust", "money", "percent", "rjust",
           "text_table"]

MISSING = "—"
"""What a table shows where there is no value (an em dash, everywhere)."""


def is_missing(v: object) -> bool:
    """None, NaN or an infinity: a value a table shows as :data:`MISSING`."""
    return v is None or (isinstance(v, (int, float)) and not math.isfinite(v))


def money(v: float | None, decimals: int = 0, signed: bool = False) -> str:
    """An amount with thousands separators (``12,345``), or :data:`MISSING`."""
    if v is None or is_missing(v):
        return MISSING
    return f"{'+' if signed and v >= 0 else ''}{v:,.{decimals}f}"


def percent(share: float | None, decimals: int = 1, signed: bool = False) -> str:
    """A share as a percentage (``0.123`` -> ``12.3%``), or :data:`MISSING`; ``signed`` gives a
    difference of shares in percentage points (``+1.5pp``)."""
    if share is None or is_missing(share):
        return MISSING
    return f"{'+' if signed and share >= 0 else ''}{100 * share:.{decimals}f}{'pp' if signed else '%'}"


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """``did you mean 'x'?`` for the closest of ``choices`` (difflib's ratio of at least
    0.6, else the same word in another case), or None when nothing is close."""
    names = [c for c in choices if c]
    match = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in names}
        if word.lower() in lowered:
            match = [lowered[word.lower()]]
    return f"did you mean '{match[0]}'?" if match else None


def display_width(s: str) -> int:
    """The columns ``s`` takes in a terminal: a wide (East Asian) character takes two, a
    combining mark none; a control character, which ``wcwidth`` cannot measure, counts as one."""
    width = wcswidth(s)
    if width >= 0:
        return width
    return sum(max(wcwidth(ch), 1) if ch != "\t" else 1 for ch in s)


def ljust(s: str, width: int) -> str:
    """``s`` padded with spaces on the right to ``width`` display columns (``str.ljust`` counts
    characters, which misaligns Chinese text)."""
    return s + " " * max(width - display_width(s), 0)


def rjust(s: str, width: int) -> str:
    """``s`` padded with spaces on the left to ``width`` display columns."""
    return " " * max(width - display_width(s), 0) + s


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1, sep: str = "  ",
               rule: bool = True) -> list[str]:
    """A plain-text table aligned by display width: the first ``left`` columns left-aligned,
    the others (numbers) right-aligned, a rule of dashes under the header when ``rule``.

    Returns:
        The lines, without trailing spaces.
    """
    table = [list(header)] + [list(r) for r in rows]
    ncol = max(len(r) for r in table)
    table = [r + [""] * (ncol - len(r)) for r in table]
    widths = [max(display_width(r[i]) for r in table) for i in range(ncol)]

    def fmt(r: list[str]) -> str:
        return sep.join(ljust(c, w) if i < left else rjust(c, w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    lines = [fmt(table[0])]
    if rule:
        lines.append(sep.join("-" * w for w in widths))
    return lines + [fmt(r) for r in table[1:]]
