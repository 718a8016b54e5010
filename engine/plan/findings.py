"""What the design lint finds, and the narrow contract kinds lint through.

:class:`Finding` is one design hazard (what ``incentive check`` prints); :class:`Jump` and
:class:`Fall` are what the lint's scan of the pay curve hands a kind's hooks;
:class:`LintContext` is all a kind may ask of the scan (style: a plug-in sees a narrow
public contract, never the scan's own class).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from engine.core.errors import Span
from engine.plan.model import Code

__all__ = ["Fall", "Finding", "Jump", "LintContext"]


@dataclass(frozen=True)
class Finding:
    """One design hazard.

    Attributes:
        code: stable identifier, one of :data:`CODES`.
        component: the component it concerns, or ``None`` for the plan as a whole (plan
            cap, modifiers, several components together).
        attainment_range: ``(lo, hi)`` as fractions of target where the hazard sits:
            ``(0.8, 0.8)`` for a jump at 80%, ``(0.0, 0.5)`` for no pay below 50%,
            ``(3.0, inf)`` for no incentive above 300%, ``(1.0, 1.5)`` for pay below its
            100% level until 150%. ``None`` when it could not be placed on the attainment
            axis (a finding from the plan text alone).
        severity: ``"warning"`` or ``"info"``.
        message: what happens, with the numbers, in one sentence.
        why: why it matters, in one sentence.
        span: where in the plan file (the step, gate, cap, curve or component), or None.
    """

    code: str
    component: str | None
    attainment_range: tuple[float, float] | None
    severity: str
    message: str
    why: str
    span: Span | None


@dataclass
class Jump:
    """A rise of pay at an attainment level (or over a short ramp), as the scan found it."""

    lo: float  # last level before the change (or start of a ramp)
    hi: float  # first level after it
    before: float
    after: float


@dataclass
class Fall:
    """A stretch of attainment over which pay falls, as the scan found it (levels are
    fractions of target, pay in money)."""

    first: int  # first and last grid interval of the fall
    last: int
    lo: float  # where pay starts to fall (the level of a drop)
    hi: float  # where it stops falling
    peak: float  # pay before the fall
    bottom: float  # lowest pay in it
    regained: float  # first level paying the peak again (inf: never within the scan)
    to_end: bool  # still falling at the end of the scan
    left: float  # a level just before the fall and one just after it (to explain it)
    right: float


class LintContext(Protocol):
    """What a kind's lint hooks may ask of the design lint's scan."""

    def const(self, code: Code) -> float | None:
        """The value of a parameter-only expression, or None when it depends on data."""
        ...

    def pct(self, x: float) -> str:
        """An attainment level or a rate as a percentage (``"80%"``)."""
        ...

    def money(self, v: float) -> str:
        """An amount as the plan's money."""
        ...

    @property
    def finding(self) -> type[Finding]:
        """The finding a hook returns or appends."""
        ...

    def fall_text(self, subject: str, fall: Fall, cause: str) -> str:
        """The sentence that says where and how far pay falls."""
        ...
