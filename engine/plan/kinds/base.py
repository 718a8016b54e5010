"""The interface every component kind implements (see :mod:`engine.plan.kinds`).

A kind receives the shared machinery of each stage as an argument and calls down into it:
the parser's :class:`~engine.plan.parse.Reader`, the validator's
:class:`~engine.plan.validate.ComponentChecks`, the compiler's
:class:`~engine.plan.compile.ComponentLowering` and :class:`~engine.plan.compile.PayEnv`, the
scalar :class:`~engine.plan.reference.ReferenceEvaluator` and the design lint, through the
narrow :class:`~engine.plan.findings.LintContext` (never the scan's own class). This module
imports none of the stages at run time (they import the kinds), only for type names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from engine.core.errors import Span
from engine.plan.findings import Fall, Finding, Jump, LintContext
from engine.plan.model import Code, Component

if TYPE_CHECKING:
    from engine.plan.compile import ComponentLowering, PayEnv
    from engine.plan.parse import Reader
    from engine.plan.reference import ReferenceEvaluator, Trace
    from engine.plan.source import YMap
    from engine.plan.validate import ComponentChecks

__all__ = ["HOOKS", "Cause", "Kind", "LinePay", "Pay", "present"]

Pay = Callable[["PayEnv"], np.ndarray]
"""A lowered component: the pay of every rep and period (before gate and cap) from the
evaluation's :class:`~engine.plan.compile.PayEnv`."""

LinePay = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
"""A component's pay at given bases: ``(base, rep, period)`` arrays of one shape -> pay."""

Cause = tuple[str, Span | None]
"""What a lint finding blames: text appended to the message (``" (its last step)"``) and
the span to point at."""

HOOKS = (
    "parse", "check", "lower", "reference", "summary", "inputs", "profile", "breakpoints",
    "cliff_cause", "drop_cause", "threshold_cause", "cap_cause", "never_pays_cause", "rerates",
    "lint_drop", "lint_plan", "weights", "line_pay", "thresholds",
)
"""Every hook of :class:`Kind` (a kind may keep the base class's default for the lint and
rewrite hooks)."""


class Kind:
    """One kind of payout component: its keys and a hook per stage.

    Class attributes:
        name: the ``kind:`` value in plans.
        keys: the keys a component of this kind may have besides the common ones
            (``name``, ``kind``, ``label``, ``description``, ``when``, ``cap``, ``weight``).
        required: the keys it must have.
        weighted: it pays a share of target incentive, so it may have a ``weight``.
        own_when: its ``when`` is its own business (rank: eligibility to compete), not a
            gate applied to its pay afterwards.
        has_score: a later expression may read ``NAME.score`` (scorecard).
        contest: its pay depends on the other reps (rank): the design lint leaves it out of
            its scan of one reference rep, and the simulator prices it against the team.
        levels: it pays one input by levels (:meth:`breakpoints`: curve points, step
            thresholds), so the early-warning alerts may read its first level as the
            plan's threshold.
        table_note: a note the payout table of ``incentive check`` adds when the plan has a
            component of this kind.
        lint_codes: the design-lint codes only this kind reports.
    """

    name: ClassVar[str]
    keys: ClassVar[tuple[str, ...]]
    required: ClassVar[tuple[str, ...]]
    weighted: ClassVar[bool] = False
    own_when: ClassVar[bool] = False
    has_score: ClassVar[bool] = False
    contest: ClassVar[bool] = False
    levels: ClassVar[bool] = False
    table_note: ClassVar[str | None] = None
    lint_codes: ClassVar[tuple[str, ...]] = ()

    # -- the stages (every kind implements these) ------------------------------------------

    def parse(self, r: Reader, item: YMap, what: str) -> dict[str, Any]:
        """Read the kind's keys of ``item`` (already checked against :attr:`keys`).

        Returns:
            Keyword arguments for :class:`~engine.plan.model.Component`: the kind's own
            fields, or ``{"spec": ...}`` for a kind that keeps its fields in one value.
        """
        raise NotImplementedError

    def check(self, c: Component, ck: ComponentChecks) -> None:
        """Validate the kind's expressions (types, constants, ordering) through ``ck``."""
        raise NotImplementedError

    def lower(self, c: Component, lo: ComponentLowering) -> Pay:
        """Lower to numpy: called once per compiled plan; returns the pay function."""
        raise NotImplementedError

    def reference(self, c: Component, ev: ReferenceEvaluator, r: int, p: int, trace: Trace) -> float:
        """The pay of rep ``r`` in period ``p`` (before gate and cap), one number at a time,
        narrating each step into ``trace`` (when not None)."""
        raise NotImplementedError

    def line_pay(self, c: Component, lo: ComponentLowering) -> Callable[[PayEnv], LinePay] | None:
        """How the component pays for an arbitrary base, for allocating it to transaction
        lines (``payout --lines``): given the evaluation's environment, a function of
        ``(base, rep, period)`` arrays (one entry per line) giving the pay at that base.
        None (the default): the component is not allocated to lines."""
        return None

    def summary(self, c: Component) -> str:
        """One line for ``incentive check``: what the component pays, in the plan's words."""
        raise NotImplementedError

    def inputs(self, c: Component) -> list[Code]:
        """The per-rep expressions the pay reads (besides ``when`` and ``cap``)."""
        raise NotImplementedError

    def profile(self, c: Component) -> list[Code]:
        """The expressions the reference rep is read from (:mod:`engine.plan.reference_rep`),
        in order; by default the kind's main input, then ``when`` and ``cap``."""
        return [x for x in (*self.inputs(c)[:1], c.when, c.cap) if x is not None]

    # -- the design lint (defaults: nothing kind-specific) ----------------------------------

    def breakpoints(self, c: Component) -> list[Code]:
        """Constant input levels the component names (curve points, step thresholds)."""
        return []

    def thresholds(self, c: Component) -> list[tuple[str, Code | None, Code]]:
        """What a rep can reach to be paid more, for the statement pack's estimator:
        ``(what, input, level)`` with ``what`` one of ``step``, ``curve``, ``tier``,
        ``payout`` and ``input`` the expression compared with ``level`` (None: the
        component's own score)."""
        return []

    def cliff_cause(self, c: Component, scan: LintContext, jump: Jump, k: int) -> Cause:
        """What makes the ``k``-th jump of the component's pay (its gate was ruled out)."""
        return "", c.span

    def drop_cause(self, c: Component, scan: LintContext) -> Cause:
        """What makes the component's pay fall (its gate and cap were ruled out)."""
        return "", c.span

    def threshold_cause(self, c: Component) -> Cause | None:
        """What keeps the component from paying at low attainment (its gate was ruled out)."""
        return None

    def cap_cause(self, c: Component) -> Cause | None:
        """What makes the component's pay stop rising (its cap was ruled out)."""
        return None

    def never_pays_cause(self, c: Component) -> Cause | None:
        """Why the component pays nothing in the plausible range, when its gate and cap are
        not the reason (for a :attr:`contest`: always asked)."""
        return None

    def rerates(self, c: Component) -> bool:
        """Whether reaching a level re-rates all of the input (retroactive tiers)."""
        return False

    def lint_drop(self, c: Component, scan: LintContext, fall: Fall, k: int) -> Finding | None:
        """A kind-specific finding for the ``k``-th fall of the pay (None: the generic one)."""
        return None

    def lint_plan(self, c: Component, scan: LintContext, findings: list[Finding]) -> None:
        """Findings read from the plan text alone, after the scan (appended to ``findings``)."""

    # -- rewriting -------------------------------------------------------------------------

    def weights(self, c: Component) -> list[tuple[str, Code]]:
        """``(KEY, code)`` of the weights recalibration may move as a group summing to 1."""
        return []


def present(codes: Iterable[Code | None]) -> list[Code]:
    """The codes that are set."""
    return [x for x in codes if x is not None]
