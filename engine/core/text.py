"""Text helpers every layer shares: the "did you mean" suggestion, how a missing value,
an amount of money and a share read in every table, report and message, and the display width
of text in a terminal (a Chinese character takes two columns; ``wcwidth`` knows which do)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Sequence

from wcwidth import wcswidth, wcwidth

__all__ = ["MISSING", "did_you_mean", "display_width", "figure", "is_missing", "ljust", "money", "p_value",
           "percent", "plan_diff", "plus_minus", "rjust", "text_table", "wrap"]

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


def figure(v: float | None, kind: str, signed: bool = False) -> str:
    """A figure as every text table shows it, by its kind: ``money`` whole with separators,
    ``pct`` a share in percent (a difference of shares, ``signed``, in points), any other kind
    a number (to 3 decimals below 1,000); :data:`MISSING` for no value."""
    if v is None or is_missing(v):
        return MISSING
    if kind == "money":
        return money(v, signed=signed)
    if kind == "pct":
        return percent(v, 1, signed=signed)
    return money(v, 0 if abs(v) >= 1000 else 3, signed=signed)


def plus_minus(mean: float | None, lo: float | None, hi: float | None, kind: str) -> str:
    """A difference with the half-width of its confidence interval (``+1,200 ± 300``,
    ``+1.5pp ± 0.4pp``); the difference alone without an interval, :data:`MISSING` without a
    difference."""
    if mean is None or is_missing(mean):
        return MISSING
    text = figure(mean, kind, signed=True)
    if lo is None or hi is None or is_missing(lo) or is_missing(hi):
        return text
    return f"{text} ± {figure((hi - lo) / 2, kind).replace('%', 'pp')}"


def p_value(p: float) -> str:
    """A p-value: three decimals (``0.042``), or two significant digits below 0.001 (``3.2e-05``)."""
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


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


def wrap(text: str, width: int) -> list[str]:
    """``text`` broken into lines of at most ``width`` display columns, at spaces (a run of
    wide characters, which has none, between characters). Text of narrow characters only is
    wrapped exactly as :func:`textwrap.wrap` does."""
    import textwrap

    if display_width(text) == len(text):
        return textwrap.wrap(text, width)
    lines: list[str] = []
    line = ""
    for word in text.split():
        while word:
            sep = 1 if line else 0
            if display_width(line) + sep + display_width(word) <= width:
                line, word = (f"{line} {word}" if line else word), ""
            elif line and display_width(word) <= width:  # it fits on a line of its own
                lines.append(line)
                line = ""
            else:  # longer than a line: fill what is left of this one, character by character
                room = width - display_width(line) - sep
                cut = 0
                while cut < len(word) and display_width(word[:cut + 1]) <= room:
                    cut += 1
                if cut == 0 and line:
                    lines.append(line)
                    line = ""
                    continue
                cut = max(cut, 1)  # a character wider than a whole line goes alone
                lines.append(f"{line} {word[:cut]}" if line else word[:cut])
                line, word = "", word[cut:]
    if line:
        lines.append(line)
    return lines


def text_table(header: Sequence[str] | None, rows: Sequence[Sequence[str]], left: int = 1, sep: str = "  ",
               rule: bool = True, total: bool = False, min_widths: Sequence[int] = ()) -> list[str]:
    """A plain-text table aligned by display width: the first ``left`` columns left-aligned,
    the others (numbers) right-aligned. Every text table of the engine is made here.

    Args:
        header: the column names, or None for a table without a header line.
        rows: the cells, as text.
        left: how many leading columns are left-aligned.
        sep: what separates two columns.
        rule: a rule of dashes under the header.
        total: a rule of dashes above the last row (a total).
        min_widths: a least width per leading column, in display columns (a layout that stays
            put whatever the values).

    Returns:
        The lines, without trailing spaces.
    """
    table = ([list(header)] if header is not None else []) + [list(r) for r in rows]
    if not table:
        return []
    ncol = max(len(r) for r in table)
    table = [r + [""] * (ncol - len(r)) for r in table]
    widths = [max(display_width(r[i]) for r in table) for i in range(ncol)]
    widths = [max(w, m) for w, m in zip(widths, min_widths)] + widths[len(min_widths):]

    def fmt(r: list[str]) -> str:
        return sep.join(ljust(c, w) if i < left else rjust(c, w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    dashes = sep.join("-" * w for w in widths)
    lines = [] if header is None else [fmt(table[0])] + ([dashes] if rule else [])
    body = [fmt(r) for r in table[header is not None:]]
    if total and body:
        body.insert(len(body) - 1, dashes)
    return lines + body


def plan_diff(old: str, new: str, file: str, context: int = 0) -> list[str]:
    """A changed plan against the plan as written, as the lines of a unified diff of the plan
    text (``--- a/FILE``, ``+++ b/FILE``); ``file`` is the plan file's path or name."""
    import difflib
    from pathlib import Path

    name = Path(file).name
    return list(difflib.unified_diff(old.splitlines(), new.splitlines(), f"a/{name}", f"b/{name}", lineterm="",
                                     n=context))
