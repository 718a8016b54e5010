"""``python -m engine.app.validation`` (``make validation``): regenerate the model card.

Simulates every published finding (:func:`engine.jobs.validation.evaluate`) and writes the
card (:func:`engine.report.text.model_card`) to ``docs/validation.md``, printing it too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.jobs.validation import ROOT, evaluate
from engine.report.text import model_card
from engine.sim.scenario import default_scenario, load_scenario

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """Regenerate the model card (``--runs``, ``--workers``, ``--out``; ``--scenario`` runs it on
    another scenario, for a sensitivity check: write it elsewhere than docs/validation.md)."""
    ap = argparse.ArgumentParser(description="Regenerate the model card (docs/validation.md).")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "docs" / "validation.md"))
    ap.add_argument("--scenario", default=None, help="scenario YAML (default: the built-in default scenario)")
    args = ap.parse_args(argv)
    scenario = default_scenario() if args.scenario is None else load_scenario(args.scenario)
    results = evaluate(runs=args.runs, workers=args.workers, scenario=scenario)
    text = model_card(results, args.runs, scenario.name)
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
