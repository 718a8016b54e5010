"""Text helpers every layer shares: the one "did you mean" suggestion."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean"]


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
