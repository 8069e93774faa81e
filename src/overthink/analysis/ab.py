"""Controlled vs natural budgets: the paired A/B the method asks for.

Run the same items under a *controlled* budget (``forced`` or ``native``: we or the
provider set the length) and under the *natural* one (the model decides); if natural
reasoning does worse, tighten the guardrails. Both regimes share their questions, so the
comparison is paired per question, and every interval is a question-clustered bootstrap
over base items (the same resample weights as every other table) with the small-sample
correction of :func:`~overthink.analysis.stats.small_sample_ci`.

Per (task, model, knob level, controlled mode) two kinds of rows:

``budget``
    natural − controlled at each controlled budget: the mean over questions that have
    both of (question's natural mean − question's mean at that budget);
``matched``
    natural − controlled at *matched reasoning length*: each question's natural mean is
    compared with its controlled budget whose observed mean reasoning length is closest
    (in log tokens) to that question's own natural length. This separates "natural
    reasoning goes wrong" from "natural reasoning is just longer/shorter".

``diff`` is natural minus controlled on the metric's own scale (accuracy, safe rate, or
mean absolute error, where lower is better); ``natural_worse`` orients it. A difference
is ``significant`` when its interval excludes 0 and the comparison has at least
:data:`~overthink.analysis.stats.MIN_ITEMS_FOR_DIRECTION` base items. The ``matched`` row
carries the one-line ``conclusion``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from overthink.analysis.curves import metric_names
from overthink.analysis.groups import Group, Level
from overthink.analysis.stats import (
    MIN_ITEMS_FOR_DIRECTION,
    FloatArray,
    ratio,
    small_sample_ci,
)
from overthink.formatting import fmt_interval

__all__ = ["AB_COLUMNS", "CONTROLLED_MODES", "group_ab"]

CONTROLLED_MODES = ("forced", "native")
"""Budget modes whose reasoning length we (or the provider) control."""
NATURAL = "natural"

AB_COLUMNS = [
    "task", "model", "knob", "level", "controlled_mode", "comparison", "budget_tokens",
    "metric_name", "higher_is_better", "natural_metric", "controlled_metric", "diff",
    "diff_low", "diff_high", "natural_worse", "significant", "natural_tokens",
    "controlled_tokens", "n_questions", "n_items", "conclusion",
]  # fmt: skip

# Per (question, comparison) columns that are resampled.
_HAS, _DIFF, _NAT, _CTRL, _NTOK, _CTOK = range(6)
_NCOL = 6


def _per_question(
    values: FloatArray, tokens: FloatArray, q: Any, cell: Any, nq: int, n_cells: int
) -> tuple[FloatArray, FloatArray]:
    """Per (question, cell) mean value and mean known reasoning tokens (NaN if none)."""
    idx = q * n_cells + cell
    size = nq * n_cells
    n = np.bincount(idx, minlength=size).astype(float)
    s = np.bincount(idx, weights=values, minlength=size).astype(float)
    known = np.isfinite(tokens)
    nt = np.bincount(idx, weights=known.astype(float), minlength=size).astype(float)
    st = np.bincount(idx, weights=np.where(known, tokens, 0.0), minlength=size).astype(float)
    return ratio(s, n).reshape(nq, n_cells), ratio(st, nt).reshape(nq, n_cells)


def group_ab(group: Group) -> list[dict[str, Any]]:
    """A/B rows (see ``AB_COLUMNS``) for one (task, model) group; [] without both regimes."""
    a = group.arrays
    usable = a["valid"]
    modes = a["budget_mode"]
    if not (usable & (modes == NATURAL)).any():
        return []
    rows: list[dict[str, Any]] = []
    for mode in CONTROLLED_MODES:
        ctrl = usable & (modes == mode)
        if ctrl.any():
            rows.extend(_mode_rows(group, mode, ctrl, usable & (modes == NATURAL)))
    return rows


def _mode_rows(group: Group, mode: str, ctrl: Any, nat: Any) -> list[dict[str, Any]]:
    a = group.arrays
    budgets = np.unique(a["budget_tokens"][ctrl])
    n_b = len(budgets)
    # Cell 0 = natural, cells 1..n_b = the controlled budgets.
    cell_of = np.where(nat, 0, np.searchsorted(budgets, a["budget_tokens"]) + 1)

    def build(s: Any) -> FloatArray:
        m = (nat | ctrl)[s.rows]
        r = s.rows[m]
        mean, tok = _per_question(
            a["value"][r], a["reasoning_tokens"][r], s.qidx[m], cell_of[r], s.n_questions,
            n_b + 1,
        )  # fmt: skip
        nat_v, nat_t = mean[:, 0], tok[:, 0]
        ctrl_v, ctrl_t = mean[:, 1:], tok[:, 1:]
        out = np.zeros((s.n_questions, n_b + 1, _NCOL))
        both = np.isfinite(nat_v)[:, None] & np.isfinite(ctrl_v)
        out[:, :n_b, _HAS] = both
        out[:, :n_b, _DIFF] = np.where(both, nat_v[:, None] - ctrl_v, 0.0)
        out[:, :n_b, _NAT] = np.where(both, nat_v[:, None], 0.0)
        out[:, :n_b, _CTRL] = np.where(both, ctrl_v, 0.0)
        out[:, :n_b, _NTOK] = np.where(both, np.nan_to_num(nat_t)[:, None], 0.0)
        out[:, :n_b, _CTOK] = np.where(both, np.nan_to_num(ctrl_t), 0.0)
        # Matched length: per question, the budget whose observed length is nearest.
        gap = np.abs(np.log2(1.0 + ctrl_t) - np.log2(1.0 + nat_t)[:, None])
        gap = np.where(both & np.isfinite(gap), gap, np.inf)
        pick = np.argmin(gap, axis=1)
        has = np.isfinite(gap[np.arange(s.n_questions), pick])
        rows_ = np.arange(s.n_questions)
        cv, ct = ctrl_v[rows_, pick], ctrl_t[rows_, pick]
        out[:, n_b, _HAS] = has
        out[:, n_b, _DIFF] = np.where(has, nat_v - cv, 0.0)
        out[:, n_b, _NAT] = np.where(has, nat_v, 0.0)
        out[:, n_b, _CTRL] = np.where(has, cv, 0.0)
        out[:, n_b, _NTOK] = np.where(has, np.nan_to_num(nat_t), 0.0)
        out[:, n_b, _CTOK] = np.where(has, np.nan_to_num(ct), 0.0)
        return out

    per_stratum = group.collect(build)
    metric = metric_names(group.family)[0]
    hib = group.higher_is_better
    out: list[dict[str, Any]] = []
    for level in group.levels:
        point, boot = Group.combine(per_stratum, level.strata)
        point = point.reshape(n_b + 1, _NCOL)
        boot = boot.reshape(-1, n_b + 1, _NCOL)
        items = _items_per_cell(group, level, nat, ctrl, cell_of, n_b)
        diff = ratio(point[:, _DIFF], point[:, _HAS])
        low, high = small_sample_ci(diff, ratio(boot[..., _DIFF], boot[..., _HAS]), items)
        for c in range(n_b + 1):
            if point[c, _HAS] == 0:
                continue
            matched = c == n_b
            ci = (float(diff[c]), float(low[c]), float(high[c]))
            row = _row(group, level, mode, metric, hib, point[c], ci, int(items[c]))
            row["comparison"] = "matched" if matched else "budget"
            row["budget_tokens"] = None if matched else int(budgets[c])
            row["conclusion"] = _conclusion(row) if matched else ""
            out.append(row)
    return out


def _items_per_cell(
    group: Group, level: Level, nat: Any, ctrl: Any, cell_of: Any, n_b: int
) -> FloatArray:
    """Base items with a paired comparison per cell (natural and that budget both present);
    the matched cell counts items with natural and any controlled budget."""
    a = group.arrays
    rows = group.rows_of(level)
    base = a["base"][rows]
    question = a["question"][rows]
    paired = ctrl[rows] & np.isin(question, question[nat[rows]])
    cells = cell_of[rows]
    out = np.zeros(n_b + 1)
    for c in range(1, n_b + 1):
        out[c - 1] = np.unique(base[paired & (cells == c)]).size
    out[n_b] = np.unique(base[paired]).size
    return out


def _row(
    group: Group, level: Level, mode: str, metric: str, hib: bool, p: FloatArray,
    ci: tuple[float, float, float], n_items: int,
) -> dict[str, Any]:  # fmt: skip
    """One comparison row; ``ci`` is the natural − controlled difference and its interval."""
    diff, low, high = ci
    n = p[_HAS]
    significant = bool(
        n_items >= MIN_ITEMS_FOR_DIRECTION
        and np.isfinite(low) and np.isfinite(high) and (low > 0 or high < 0)
    )  # fmt: skip
    return {
        "task": group.task, "model": group.model, "knob": level.knob, "level": level.level,
        "controlled_mode": mode, "metric_name": metric, "higher_is_better": hib,
        "natural_metric": float(p[_NAT] / n), "controlled_metric": float(p[_CTRL] / n),
        "diff": float(diff), "diff_low": float(low), "diff_high": float(high),
        "natural_worse": bool((diff < 0) == hib) if np.isfinite(diff) else False,
        "significant": significant, "natural_tokens": float(p[_NTOK] / n),
        "controlled_tokens": float(p[_CTOK] / n), "n_questions": int(n), "n_items": n_items,
    }  # fmt: skip


def _conclusion(row: dict[str, Any]) -> str:
    """One line a reader can act on, claiming no more than the interval supports."""
    mode, metric = row["controlled_mode"], row["metric_name"]
    where = "" if row["knob"] == "" else f" at {row['knob']}={row['level']}"
    ci = fmt_interval(row["diff"], row["diff_low"], row["diff_high"])
    if row["n_items"] < MIN_ITEMS_FOR_DIRECTION:
        return (
            f"natural vs {mode}{where}: {row['n_items']} base items, too few to compare "
            f"(need {MIN_ITEMS_FOR_DIRECTION})"
        )
    if not row["significant"]:
        return (
            f"natural vs {mode}{where}: no difference detected at matched reasoning length "
            f"({metric} natural − {mode} {ci})"
        )
    if row["natural_worse"]:
        return (
            f"natural reasoning does worse than {mode}{where} at matched length ({metric} "
            f"natural − {mode} {ci}): natural drops more — tighten guardrails (cap or force "
            "the budget)"
        )
    return (
        f"natural reasoning does better than {mode}{where} at matched length ({metric} "
        f"natural − {mode} {ci}): the controlled budget costs {metric} here"
    )
