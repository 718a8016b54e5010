"""The registry of component kinds: one module per kind, one table, :data:`KINDS`.

Every stage of the engine that needs to know what a component of some kind means asks its
row of :data:`KINDS` (``kinds.KINDS[c.kind]``) and calls a hook, passing the stage's shared
machinery down: parsing (:mod:`engine.plan.parse` -> :meth:`Kind.parse`), validation
(:mod:`engine.plan.validate` -> :meth:`Kind.check`), lowering to numpy
(:mod:`engine.plan.compile` -> :meth:`Kind.lower`), the scalar reference evaluator
(:mod:`engine.plan.reference` -> :meth:`Kind.reference`), the text of ``incentive check``
(:mod:`engine.data.summary` -> :meth:`Kind.summary`, :attr:`Kind.table_note`), the design lint
(:mod:`engine.plan.lint` -> the ``*_cause`` hooks, :meth:`Kind.lint_drop`,
:meth:`Kind.lint_plan`), the reference rep (:meth:`Kind.profile`) and recalibration's rewrite
(:mod:`engine.plan.rewrite` -> :meth:`Kind.weights`). The kinds: ``curve``, ``rate``,
``step``, ``scorecard``, ``rank`` (this order is the order error messages list them in).

How to add a component kind
---------------------------

1. Write ``engine/plan/kinds/NAME.py`` with a subclass of :class:`Kind`: its ``name``,
   ``keys`` and ``required`` keys, the capability flags (``weighted``, ``own_when``,
   ``has_score``, ``contest``), and the hooks ``parse``, ``check``, ``lower``, ``reference``,
   ``summary`` and ``inputs`` (the lint and rewrite hooks have defaults that do nothing
   kind-specific). Keep the kind's fields in one frozen value returned by ``parse`` as
   ``{"spec": ...}``: it lands in :attr:`Component.spec <engine.plan.model.Component.spec>`,
   and its ``codes()`` method lists the per-rep expressions it holds (so that
   :meth:`Plan.codes <engine.plan.model.Plan.codes>` sees them).
2. Add a row to :data:`KINDS` below.
3. Tests: the kind's parse errors, validation errors and payouts, with the compiled and the
   reference evaluator agreeing (``tests/plan/test_kinds.py`` shows a toy kind doing all of
   it in a few lines).
4. Docs: the kind's section in the plan language (``docs/``).

Nothing else changes: the parser accepts exactly the kinds of the table, and every stage
reads the table at call time.
"""

from __future__ import annotations

from engine.plan.kinds.base import HOOKS, Cause, Kind, Pay
from engine.plan.kinds.curve import CurveKind
from engine.plan.kinds.rank import RankKind
from engine.plan.kinds.rate import RateKind
from engine.plan.kinds.scorecard import ScorecardKind
from engine.plan.kinds.step import StepKind

__all__ = ["COMMON_KEYS", "HOOKS", "KINDS", "Cause", "Kind", "Pay", "kind_of"]

COMMON_KEYS = ("name", "kind", "label", "description", "when", "cap", "weight")
"""The keys every component may have, whatever its kind."""

KINDS: dict[str, Kind] = {k.name: k for k in (CurveKind(), RateKind(), StepKind(), ScorecardKind(), RankKind())}
"""Kind name -> its implementation. A new kind is a module and a row here."""


def kind_of(name: str) -> Kind:
    """The row of :data:`KINDS` for a kind name (read at call time, so a test may swap the table)."""
    return KINDS[name]
