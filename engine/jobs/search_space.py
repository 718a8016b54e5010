"""The space ``recalibrate`` searches: a plan's bounded numbers scaled to the unit cube, and
its scorecard weights mapped onto the bounded simplex (kept summing to 1, each within its
allowed change), with the rounding that writes a point back as numbers the plan can hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.core.errors import PlanError, PlanErrors
from engine.plan.rewrite import NumberSite, decimals_for

__all__ = ["SearchSpace", "space_of"]

@dataclass(frozen=True)
class SearchSpace:
    """The unit cube the optimiser sees, mapped to plan numbers.

    Each bounded parameter is one coordinate (scaled to its range); each scorecard's
    weights are one coordinate per metric, scaled to [lo, hi] and then projected onto
    ``sum = 1`` within those bounds. Values are rounded to what the plan will say.
    """

    params: tuple[NumberSite, ...]
    groups: tuple[tuple[tuple[NumberSite, ...], np.ndarray, np.ndarray], ...]  # (sites, lo, hi)
    fixed: dict

    @property
    def dim(self) -> int:
        return len(self.params) + sum(len(g[0]) for g in self.groups)

    def start(self) -> np.ndarray:
        z: list[float] = []
        for s in self.params:
            low, high = _bounds(s)
            z.append((s.value - low) / (high - low))
        for sites, lo, hi in self.groups:
            w0 = np.array([s.value for s in sites])
            z += list(np.where(hi > lo, (w0 - lo) / np.where(hi > lo, hi - lo, 1.0), 0.5))
        return np.clip(np.array(z, dtype=float), 0.0, 1.0)

    def values(self, z: np.ndarray) -> dict[str, float]:
        z = np.clip(np.asarray(z, dtype=float), 0.0, 1.0)
        out = dict(self.fixed)
        for s, zi in zip(self.params, z):
            low, high = _bounds(s)
            v = low + zi * (high - low)
            d = decimals_for(s)
            v = float(np.clip(round(v, d), low, high))
            out[s.key] = float(round(v)) if s.integer else v
        i = len(self.params)
        for sites, lo, hi in self.groups:
            k = len(sites)
            w = lo + z[i:i + k] * (hi - lo)
            i += k
            w = _project_box_simplex(w, lo, hi)
            d = max(decimals_for(s) for s in sites)
            for s, v in zip(sites, _round_simplex(w, lo, hi, d)):
                out[s.key] = v
        return out


def _bounds(s: NumberSite) -> tuple[float, float]:
    """``(min, max)`` of a parameter of the search space (only bounded ones are searched)."""
    assert s.min is not None and s.max is not None, f"'{s.key}' has no bounds"
    return s.min, s.max


def _project_box_simplex(w: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The point ``clip(w + t, lo, hi)`` that sums to 1 (bisection on ``t``)."""
    a, b = -1.0 - float(w.max()), 1.0 - float(w.min()) + 1.0
    for _ in range(100):
        t = (a + b) / 2
        if np.clip(w + t, lo, hi).sum() > 1.0:
            b = t
        else:
            a = t
    return np.clip(w + (a + b) / 2, lo, hi)


def _round_simplex(w: np.ndarray, lo: np.ndarray, hi: np.ndarray, decimals: int) -> list[float]:
    """Round weights to ``decimals`` keeping the sum exactly 1 and the bounds (largest remainder)."""
    unit = 10 ** decimals
    a = w * unit
    lo_u = np.ceil(lo * unit - 1e-9).astype(int)
    hi_u = np.floor(hi * unit + 1e-9).astype(int)
    f = np.clip(np.floor(a + 1e-9).astype(int), lo_u, hi_u)
    rest = unit - int(f.sum())
    frac = a - f
    order = list(np.argsort(-frac, kind="stable"))
    while rest > 0:
        moved = False
        for i in order:
            if rest > 0 and f[i] < hi_u[i]:
                f[i] += 1
                rest -= 1
                moved = True
        if not moved:
            break
    order = list(np.argsort(frac, kind="stable"))
    while rest < 0:
        moved = False
        for i in order:
            if rest < 0 and f[i] > lo_u[i]:
                f[i] -= 1
                rest += 1
                moved = True
        if not moved:
            break
    return [int(x) / unit for x in f]


def space_of(sites: list[NumberSite], vary: Sequence[str] | None, freeze: Sequence[str], weights: bool,
           weight_change: float, min_weight: float) -> SearchSpace:
    keys = {s.key for s in sites}
    groups_all = {s.group for s in sites if s.kind == "weight" and s.group is not None}
    for name in list(vary or []) + list(freeze):
        if name not in keys and name not in groups_all:
            from engine.plan.parse import suggest

            searchable = sorted(keys | groups_all)
            hint = suggest(name, searchable)
            raise PlanErrors([PlanError("unknown-name", f"the plan has no parameter or scorecard weight '{name}'",
                                        None, (hint + " " if hint else "") + "the plan's numbers: "
                                        + ", ".join(searchable))])

    def chosen(s: NumberSite) -> bool:
        names = {s.key} | ({s.group} if s.group else set())
        if names & set(freeze):
            return False
        return vary is None or not vary or bool(names & set(vary))

    params = tuple(s for s in sites if s.kind == "parameter" and s.min is not None and s.max is not None
                   and s.max > s.min and chosen(s))
    fixed = {s.key: s.value for s in sites if s not in params}
    groups = []
    if weights:
        for g in dict.fromkeys(s.group for s in sites if s.kind == "weight"):
            gs = tuple(s for s in sites if s.group == g)
            if not all(chosen(s) for s in gs):
                continue
            d = max(decimals_for(s) for s in gs)
            step = round(weight_change, d)
            w0 = np.array([s.value for s in gs])
            lo = np.maximum(np.minimum(min_weight, w0), np.round(w0 - step, d))
            hi = np.minimum(1.0, np.round(w0 + step, d))
            if np.all(hi - lo <= 0) or len(gs) < 2:
                continue
            groups.append((gs, lo, hi))
            for s in gs:
                fixed.pop(s.key, None)
    return SearchSpace(params, tuple(groups), fixed)
