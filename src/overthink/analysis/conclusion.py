"""The plain-language conclusion of an analysis, built only from tests that passed.

What a reader wants first: where thinking longer helps, where it stops helping, where it
hurts, the threshold (knob level and reasoning length) with its interval, and the one
next step that would settle what is still open. Every sentence comes from a test that
passed at the run's significance level:

* a curve's verdict (``positive``, ``inverse``, ``peaked``: the Benjamini–Hochberg
  adjusted trend or peak test, from 6 base items up) — a ``peaked`` curve gives the
  reasoning-length threshold as its turning point with the turning point's interval;
* the cube's knob × length interaction (its p-values adjusted together, BH) — and then
  the knob threshold: the last level whose within-question length slope is significantly
  good and the first whose slope is significantly bad (each with its interval);
* the controlled-vs-natural A/B at matched length (interval excluding 0).

Flat, insufficient and non-significant results are never described as effects; they are
counted, and decide the next step (more base items when curves are flat or too small).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from overthink.analysis.stats import MIN_ITEMS_FOR_DIRECTION, bh_adjust
from overthink.analysis.verdict import VerdictName
from overthink.formatting import fmt_interval, fmt_spec

__all__ = ["Conclusion", "conclude"]


@dataclass
class Conclusion:
    """Findings (one sentence each) and the one next step."""

    findings: list[str] = field(default_factory=list)
    next_step: str = ""
    undecided: int = 0
    """Curves with a verdict of ``flat`` or ``insufficient`` (no claim made about them)."""

    def lines(self) -> list[str]:
        """The conclusion as printed: findings, then ``next step: ...``."""
        return [*self.findings, f"next step: {self.next_step}"]


def _fmt(value: Any, spec: str = "+.3f") -> str:
    # Slopes and their bounds (the default) are signed to three decimals.
    return fmt_spec(value, spec)


def _level(knob: Any, level: Any) -> str:
    return "all levels" if knob in ("", None) or level == "all" else f"{knob}={level}"


def _where(row: Any) -> str:
    return f"{row['task']} ({row['model']}, {row['budget_mode']})"


def _curve_findings(verdicts: pd.DataFrame) -> list[str]:
    out: list[str] = []
    judged = verdicts[verdicts["n_points"] > 1]
    for _, row in judged.iterrows():
        verdict = str(row["verdict"])
        if verdict not in (VerdictName.POSITIVE, VerdictName.INVERSE, VerdictName.PEAKED):
            continue
        level = _level(row["knob"], row["level"])
        slope = (
            f"{row['metric_name']} {_fmt(row['slope'])} per doubling of reasoning "
            f"[{_fmt(row['slope_low'])}, {_fmt(row['slope_high'])}], p adj "
            f"{_fmt(row['p_verdict'], '.2g')}"
        )
        if verdict == VerdictName.POSITIVE:
            out.append(f"thinking longer helps on {_where(row)} at {level}: {slope}")
        elif verdict == VerdictName.INVERSE:
            out.append(f"thinking longer hurts on {_where(row)} at {level}: {slope}")
        else:
            unit = "rank " if row.get("basis") == "natural_rank" else "budget "
            out.append(
                f"thinking helps and then hurts on {_where(row)} at {level}: best at {unit}"
                f"{fmt_interval(row['turning_point'], row['tp_low'], row['tp_high'], '.0f')} "
                f"(~{_fmt(row['turning_tokens'], '.0f')} "
                f"reasoning tokens), the reasoning-length threshold"
            )
    return out


def _knob_findings(slopes: pd.DataFrame, alpha: float) -> tuple[list[str], int]:
    """Interaction findings and how many interaction tests stayed undecided."""
    if slopes.empty:
        return [], 0
    keyed = slopes[(slopes["knob"] != "") & slopes["interaction_p"].notna()]
    keys = ["task", "model", "budget_mode", "knob"]
    tests = keyed.drop_duplicates(keys)
    if tests.empty:
        return [], 0
    adjusted = bh_adjust(tests["interaction_p"].to_numpy(dtype=float))
    out: list[str] = []
    undecided = 0
    for (_, test), p_adj in zip(tests.iterrows(), adjusted, strict=True):
        if not (np.isfinite(p_adj) and p_adj < alpha):
            undecided += 1
            continue
        sub = keyed
        for k in keys:
            sub = sub[sub[k] == test[k]]
        hib = str(test["metric_name"]) not in ("mae", "rmse")
        sign = 1.0 if hib else -1.0
        knob = str(test["knob"])
        d = float(test["interaction_slope"])
        if math.isfinite(d):
            way = "worse" if sign * d < 0 else "better"
            change = f"{_fmt(d)} per {knob} unit on the length slope"
        else:
            way, change = "different", "levels differ (categorical test)"
        out.append(
            f"{knob} changes how thinking longer pays off on {_where(test)}: more {knob} "
            f"makes it {way} ({change}, p adj {_fmt(p_adj, '.2g')})"
        )
        out.extend(_threshold(sub, knob, sign, test))
    return out, undecided


def _threshold(sub: pd.DataFrame, knob: str, sign: float, test: Any) -> list[str]:
    """The last level where longer thinking significantly helps, the first where it hurts."""
    try:
        ordered = sub.assign(_k=sub["level"].astype(float)).sort_values("_k")
    except (TypeError, ValueError):
        ordered = sub
    helps = ordered[_excludes_zero(ordered) & (sign * ordered["slope"] > 0)]
    hurts = ordered[_excludes_zero(ordered) & (sign * ordered["slope"] < 0)]

    def say(row: Any) -> str:
        return (
            f"{knob}={row['level']} (slope "
            f"{fmt_interval(row['slope'], row['slope_low'], row['slope_high'])} per doubling)"
        )

    if hurts.empty and helps.empty:
        return [f"  no single {knob} level's length slope is significant yet on {_where(test)}"]
    parts = []
    if not helps.empty:
        parts.append(f"thinking longer still helps at {say(helps.iloc[-1])}")
    if not hurts.empty:
        parts.append(f"it hurts from {say(hurts.iloc[0])}")
    return [f"  threshold on {_where(test)}: " + "; ".join(parts)]


def _excludes_zero(rows: pd.DataFrame) -> Any:
    low = rows["slope_low"].astype(float)
    high = rows["slope_high"].astype(float)
    return (low > 0) | (high < 0)


def _ab_findings(ab: pd.DataFrame) -> tuple[list[str], int]:
    if ab.empty:
        return [], 0
    matched = ab[(ab["comparison"] == "matched") & (ab["knob"] == "")]
    found = matched[matched["significant"].astype(bool)]
    return [str(c) for c in found["conclusion"]], int(len(matched) - len(found))


def _next_step(verdicts: pd.DataFrame, open_tests: int) -> str:
    judged = verdicts[verdicts["n_points"] > 1] if len(verdicts) else verdicts
    if judged.empty:
        return (
            "no budget sweep to judge: run at least two budgets (e.g. --budgets 0,64,256) "
            f"on {2 * MIN_ITEMS_FOR_DIRECTION}+ questions per level"
        )
    small = judged[judged["n_questions"] < MIN_ITEMS_FOR_DIRECTION]
    if len(small):
        return (
            f"run --samples {2 * MIN_ITEMS_FOR_DIRECTION}: {len(small)} curve(s) have fewer "
            f"than {MIN_ITEMS_FOR_DIRECTION} base items, too few for any verdict"
        )
    flat = judged[judged["verdict"] == VerdictName.FLAT.value]
    if len(flat) or open_tests:
        items = int(flat["n_questions"].min()) if len(flat) else int(judged["n_questions"].min())
        target = int(math.ceil(4 * items / 12.0) * 12)
        what = f"{len(flat)} curve(s) are still flat" if len(flat) else "tests are still open"
        return (
            f"run --samples {target}: {what} at {items} base items; 4× the items halves "
            "their intervals, enough to tell a small effect from none"
        )
    return "nothing is undecided at this sample size; confirm on your own model (--model)"


def conclude(
    verdicts: pd.DataFrame,
    cube_slopes: pd.DataFrame | None = None,
    ab: pd.DataFrame | None = None,
    *,
    alpha: float = 0.05,
) -> Conclusion:
    """The conclusion of an analysis's tables (see the module docstring)."""
    findings = _curve_findings(verdicts) if len(verdicts) else []
    knob_lines, open_knobs = _knob_findings(
        cube_slopes if cube_slopes is not None else pd.DataFrame(), alpha
    )
    ab_lines, open_ab = _ab_findings(ab if ab is not None else pd.DataFrame())
    findings += knob_lines + ab_lines
    judged = verdicts[verdicts["n_points"] > 1] if len(verdicts) else verdicts
    undecided_names = [VerdictName.FLAT.value, VerdictName.INSUFFICIENT.value]
    undecided = int(judged["verdict"].isin(undecided_names).sum()) if len(judged) else 0
    if not findings:
        findings = [
            f"no effect of thinking longer is established at this sample size ({undecided} "
            "curve(s) flat or too small; flat means undecided, not no effect)"
        ]
    elif undecided:
        findings.append(f"{undecided} other curve(s) are flat or too small to judge (no claim)")
    return Conclusion(
        findings=findings, next_step=_next_step(verdicts, open_knobs + open_ab),
        undecided=undecided,
    )  # fmt: skip
