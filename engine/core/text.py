"""Text helpers every layer shares: the "did you mean" suggestion, and how a missing value,
an amount of money and a share read in every table, report and message."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable

__all__ = ["MISSING", "did_you_mean", "is_missing", "money", "percent"]

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
