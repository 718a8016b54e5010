"""A calibrated scenario: a base scenario's text with the fitted values put in.

:func:`write_calibrated_scenario` writes what ``incentive calibrate`` writes: the base
scenario file (the built-in one by default) with ``reps.skill``, the primary output's
``level``, ``noise`` and ``sigma``, ``seasonality`` and ``market`` set to a
:class:`~engine.sim.calibrate.Calibration`'s values, every other character (comments
included) as the base has it, and an opening comment that summarizes the fit. The edits go
through the one YAML text editor, :class:`~engine.core.yamledit.YamlEditor`.

Public: :func:`write_calibrated_scenario`, :func:`scenario_number`.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from engine.core.atomic import write_text_atomic
from engine.core.periods import MONTH_NAMES, PERIOD_ADJECTIVE
from engine.core.text import p_value
from engine.core.yamledit import YamlEditor
from engine.sim.calibrate import Calibration
from engine.sim.market import MarketModel
from engine.sim.scenario import DEFAULT_SCENARIO, Output, load_scenario, parse_scenario

__all__ = ["scenario_number", "write_calibrated_scenario"]


def write_calibrated_scenario(cal: Calibration, out_path: str | os.PathLike[str],
                              base: str | os.PathLike[str] | None = None,
                              name: str | None = None) -> Path:
    """Write a runnable scenario: a base scenario with the fitted values put in.

    Sets ``reps.skill`` to ``{dist: lognormal, median: 1.0, sigma: <sigma_skill>}``; on the
    primary output, ``level``, ``noise: lognormal`` and ``sigma: <monthly noise sigma>``
    (dropping ``deals_per_month`` and ``size_sigma``); ``seasonality`` to the 12 fitted
    monthly factors; ``market`` to ``cal.market`` (the fitted year_sigma, rho and
    month_sigma, or the market the fit kept; the base's key is replaced, flow or block style,
    or added after ``seasonality``, with a comment giving the standard errors and the
    history; a base market the fit kept unfitted stays as written); and ``scenario`` to
    ``name``. Everything else, comments included, is the base file's text; the base's opening
    comment becomes a fit summary. Fit with ``market_prior=load_scenario(base).market`` so
    that the prior, and the market kept from one fiscal year, are the base's. The result is
    validated before it is written, atomically (a failure leaves no file behind).

    Args:
        cal: what :func:`~engine.sim.calibrate.fit_history` returned.
        out_path: where to write the YAML (parent folders are created).
        base: path of the base scenario; the built-in default scenario when None.
        name: the scenario's name; ``calibrated_<history file stem>`` when None.

    Returns:
        The path written.

    Raises:
        PlanErrors: the base scenario is invalid, or ``name`` is not a valid identifier.
    """
    base_path = Path(base) if base is not None else DEFAULT_SCENARIO
    base_scenario = load_scenario(base_path)  # validates the base
    text = base_path.read_text(encoding="utf-8")
    if name is None:
        name = "calibrated_" + re.sub(r"\W", "_", Path(cal.source).stem)
    base_name = "the built-in default scenario" if base is None else str(base)
    out = Path(out_path)
    editor = _ScenarioEditor(text)
    editor.move_roster(base_path, out)
    new_text = editor.calibrated(cal, base_scenario.primary_measure, base_scenario.outputs, name,
                                 base_name, base_scenario.market)
    parse_scenario(new_text, str(out))  # never write a scenario that does not load
    write_text_atomic(out, new_text)
    return out


def scenario_number(x: float) -> str:
    """A number as YAML reads it back as a float: positional, 4 significant digits."""
    return np.format_float_positional(float(x), precision=4, unique=False, fractional=False,
                                      trim="0")


def _market_comment(cal: Calibration) -> list[str]:
    """The comment above a written ``market`` key: the model, and where the values come from."""
    prior = cal.market_prior
    text = ("The market moves every rep of a run together: each month's demand is multiplied by "
            "exp(x - var/2), x = a plan-year level shock (sd year_sigma) + an AR(1) monthly part "
            "(coefficient rho, innovation sd month_sigma). ")
    if cal.market_fitted:
        ys, rho, ms = cal.market_parameters
        text += (f"Fitted to {cal.source} ({cal.n_fiscal_years} fiscal years; posterior mode, "
                 f"prior centred on year_sigma {prior.year_sigma:g}, rho {prior.rho:g}, month_sigma "
                 f"{prior.month_sigma:g}): year_sigma {ys.estimate:.3f} (se {ys.se:.3f}), rho "
                 f"{rho.estimate:.2f} (se {rho.se:.2f}), month_sigma {ms.estimate:.3f} (se "
                 f"{ms.se:.3f}); total sd of a month's log factor {cal.market_sd:.3f} (se "
                 f"{cal.market_sd_se:.3f}). team_share is not fitted.")
    else:
        text += (f"Not fitted: {cal.source} covers one fiscal year, where the market cannot be "
                 "told apart from seasonality; these are the values the fit was given.")
    return textwrap.wrap(text, 86, break_on_hyphens=False)


def _seasonality_text(factors: Sequence[float], decimals: int = 4) -> list[str]:
    """Factors rounded so that they still average exactly 1 (largest remainders), so that the
    scenario does not renormalize them and months at 1.0 stay 1.0."""
    scale = 10 ** decimals
    units = np.asarray(factors, dtype=float) * scale
    rounded = np.floor(units + 1e-9)
    short = round(len(units) * scale - float(rounded.sum()))
    order = np.argsort(-(units - rounded), kind="stable")
    rounded[order[:short]] += 1
    texts = [f"{u / scale:.{decimals}f}".rstrip("0") for u in rounded]
    return [t + "0" if t.endswith(".") else t for t in texts]


class _ScenarioEditor(YamlEditor):
    """The fitted keys of a calibration written into a scenario's text."""

    # -- the calibration ----------------------------------------------------------------

    def move_roster(self, base: Path, out: Path) -> None:
        """Keep a relative ``team.roster`` pointing at the same file from the new location."""
        team = self.item(self.root, "team")
        roster = self.item(team[1], "roster") if team is not None else None
        if roster is None or not isinstance(roster[1].value, str) or \
                Path(roster[1].value).is_absolute():
            return
        target = (base.parent / roster[1].value).resolve()
        try:
            moved = os.path.relpath(target, out.parent.resolve())
        except ValueError:  # another drive (Windows)
            moved = str(target)
        self.replace(roster[1], json.dumps(moved))

    def calibrated(self, cal: Calibration, primary: str, outputs: Sequence[Output], name: str,
                   base_name: str, base_market: MarketModel) -> str:
        root = self.root
        if not isinstance(root, yaml.MappingNode):  # pragma: no cover - load_scenario checked
            raise TypeError("a scenario must be a mapping")
        self.header(cal, base_name, primary)

        scen = self.item(root, "scenario")
        if scen is not None:
            self.replace(scen[1], name)
        # The base's label describes the base ("120 reps..."); say what this scenario is.
        label = self.item(root, "label")
        base_label = str(label[1].value) if label is not None and isinstance(label[1], yaml.ScalarNode) else ""
        new_label = (f"Calibrated to {Path(cal.source).name} ({cal.n_reps} reps, {cal.first_period} to "
                     f"{cal.last_period})" + (f"; team and behaviour of: {base_label}" if base_label else ""))
        quoted = json.dumps(new_label, ensure_ascii=False)
        if label is not None:
            self.replace(label[1], quoted)
        elif isinstance(root, yaml.MappingNode) and not root.flow_style:
            self.set_key(root, "label", quoted)

        skill = (f"{{dist: lognormal, median: 1.0, sigma: {scenario_number(cal.sigma_skill)}}}")
        skill_note = [
            ("Productivity multiplier: expected output at baseline effort = level x quota/12 "
             "x skill."),
            (f"Fitted to {cal.source}: sigma is the spread of log attainment between reps (se "
             f"{cal.sigma_skill_se:.3f})."),
        ]
        reps = self.item(root, "reps")
        if reps is not None and isinstance(reps[1], yaml.MappingNode) and not reps[1].flow_style:
            found = self.item(reps[1], "skill")
            if found is not None:
                self.comments_above(found[0], skill_note)
            self.set_key(reps[1], "skill", skill)
        elif reps is not None and isinstance(reps[1], yaml.MappingNode):
            self.replace_flow(reps[1], {"skill": skill}, ())
        elif reps is not None:  # `reps:` with nothing under it
            self.replace(reps[1], f"{{skill: {skill}}}")
        else:
            self.append("reps:\n" + "".join(f"  # {t}\n" for t in skill_note)
                        + f"  skill: {skill}\n")

        self.primary_output(cal, primary, outputs)

        months = ", ".join(_seasonality_text(cal.seasonality))
        missing = [MONTH_NAMES[m - 1] for m in range(1, 13) if m not in cal.months_present]
        season_note = [f"Monthly demand factors, January first (mean 1), fitted to {cal.source}."]
        if missing:
            season_note.append(f"Months not in the history ({', '.join(missing)}): 1.0.")
        season = self.item(root, "seasonality")
        if season is not None:
            self.comments_above(season[0], season_note)
            self.replace(season[1], f"[{months}]")
        else:
            self.append("".join(f"# {t}\n" for t in season_note) + f"seasonality: [{months}]\n")
        self.market(cal, base_market, season[1] if season is not None else None)
        return self.apply()

    def market(self, cal: Calibration, base_market: MarketModel,
               season: yaml.Node | None) -> None:
        """Write ``cal.market`` into the ``market`` key (after ``seasonality`` if the base has
        none); a base's market the fit kept (not fitted) stays as it is written."""
        m = cal.market
        if not cal.market_fitted and m == base_market:
            return
        values = {"year_sigma": scenario_number(m.year_sigma), "rho": scenario_number(m.rho),
                  "month_sigma": scenario_number(m.month_sigma), "team_share": scenario_number(m.team_share)}
        notes = _market_comment(cal)
        found = self.item(self.root, "market")
        if found is not None:
            key, node = found
            self.comments_above(key, notes)
            if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
                ses = {p.name: p.se for p in cal.market_parameters}
                for k, v in values.items():
                    comment = (f"fitted (se {ses[k]:.3g})" if cal.market_fitted and k in ses
                               else "not fitted")
                    self.set_key(node, k, v, comment)
            else:
                self.replace(node, "{" + ", ".join(f"{k}: {v}" for k, v in values.items()) + "}")
            return
        block = ("".join(f"# {t}\n" for t in notes) + "market: {"
                 + ", ".join(f"{k}: {v}" for k, v in values.items()) + "}\n")
        if season is not None:
            at = self.line_end(self.end(season))
            self.edit(at, at, "\n" + block)
        else:
            self.append(block)

    def header(self, cal: Calibration, base_name: str, primary: str) -> None:
        """Replace the opening comment block with a summary of the fit (no date)."""
        sigma = (f"{cal.noise_sigma:.3f} per {cal.period_kind} = {cal.monthly_noise_sigma:.3f} "
                 "per month" if cal.months_per_period > 1 else f"{cal.noise_sigma:.3f} per month")
        summary = (
            f"Calibrated scenario: {base_name} fitted to the history in {cal.source} "
            f"(`incentive\0calibrate`). Fit: {cal.n_reps} reps, {cal.n_periods} "
            f"{PERIOD_ADJECTIVE[cal.period_kind]} periods ({cal.n_observations} rep-periods, "
            f"{cal.zeros_dropped} zero attainments left out); sigma_skill {cal.sigma_skill:.3f}, "
            f"noise sigma {sigma}, level {cal.level:.3f}, market sd {cal.market_sd:.3f} per month"
            f"{'' if cal.market_fitted else ' (not fitted)'}, residual KS p-value "
            f"{p_value(cal.residual_ks_pvalue)}. Fitted keys: reps.skill, outputs.{primary} (level, "
            "noise), seasonality"
            + (", market (year_sigma, rho, month_sigma); the rest is the base scenario's."
               if cal.market_fitted else
               "; the market is the one the fit was given (one fiscal year does not separate it "
               "from seasonality), the rest the base scenario's.")
            + " The level includes the effort reps gave under the plan the history was paid "
            "under."
        )
        lines = [line.replace("\0", " ") for line in
                 textwrap.wrap(summary, 88, break_on_hyphens=False)]
        self.edit(0, self.body, "".join(f"# {t}\n" for t in lines) + "\n")

    def primary_output(self, cal: Calibration, primary: str, outputs: Sequence[Output]) -> None:
        adjective = PERIOD_ADJECTIVE[cal.period_kind]
        sigma_note = (f"fitted monthly noise (se {cal.monthly_noise_sigma_se:.3f})"
                      if cal.months_per_period == 1 else
                      f"monthly, from the fitted {adjective} {cal.noise_sigma:.3f} (independent "
                      "months)")
        level_note = (f"fitted (se {cal.level_se:.3f}): median-skill rep's attainment in the "
                      "history")
        values = {"level": (scenario_number(cal.level), level_note),
                  "noise": ("lognormal", "fitted to the history"),
                  "sigma": (scenario_number(cal.monthly_noise_sigma), sigma_note)}
        drop = ("deals_per_month", "size_sigma")
        outs = self.item(self.root, "outputs")
        node = self.item(outs[1], primary) if outs is not None else None
        if node is None:
            # The base relies on the default outputs: write them out with the fitted values.
            block = ["outputs:"]
            for o in outputs:
                params = dict(o.params)
                if o.name == primary:
                    for key in drop:
                        params.pop(key, None)
                    params.update({k: v for k, (v, _) in values.items()})
                block.append(f"  {o.name}:")
                block.append(f"    kind: {o.kind}")
                block.append(f"    activity: {o.activity}")
                block += [f"    {k}: {scenario_number(v) if isinstance(v, float) else v}"
                          for k, v in params.items()]
            self.append("\n".join(block) + "\n")
            return
        mapping = node[1]
        assert isinstance(mapping, yaml.MappingNode)  # the base scenario is valid: an output is a mapping
        if mapping.flow_style:
            self.replace_flow(mapping, {k: v for k, (v, _) in values.items()}, drop)
            return
        for key in drop:
            self.remove_key(mapping, key)
        for key, (value, comment) in values.items():
            self.set_key(mapping, key, value, comment)
