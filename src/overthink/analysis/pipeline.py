"""``analyze``: every analysis of a run in one call, returned as DataFrames.

Order of work: split single-sample records into (task, model) groups and knob strata
(each with its bootstrap weights, drawn once), then per group the curves, the natural
length analysis, the cube and the pools; then, across all groups, the verdicts (one
Benjamini–Hochberg family for the whole run), the Pareto fronts, and the plain-language
conclusion built from the tests that passed (:mod:`overthink.analysis.conclusion`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from overthink.analysis._blas import single_threaded_blas
from overthink.analysis.ab import AB_COLUMNS, group_ab
from overthink.analysis.conclusion import Conclusion, conclude
from overthink.analysis.cost import COST_AXES, DEFAULT_INTENSITY, ModelShape, price_for, shape_for
from overthink.analysis.cube import CUBE_COLUMNS, SLOPE_COLUMNS, group_cube
from overthink.analysis.curves import CURVE_COLUMNS, CurveFit, group_curves
from overthink.analysis.drift import DRIFT_TABLE_COLUMNS, run_drift
from overthink.analysis.frame import DERIVED_COLUMNS, base_item_keys, load_run, prepare
from overthink.analysis.groups import Group, iter_groups, resolve_knobs
from overthink.analysis.natural import BIN_COLUMNS, NATURAL_MODE, RANK_COLUMNS, group_natural
from overthink.analysis.pareto import CHEAPEST_COLUMNS, PARETO_COLUMNS, cheapest, pareto
from overthink.analysis.polarity import annotate, metric_rows, task_polarity
from overthink.analysis.pools import POOL_COLUMNS, PoolCosts, group_pools
from overthink.analysis.stats import rng_for
from overthink.analysis.verdict import DEFAULT_ALPHA, VERDICT_COLUMNS, verdicts
from overthink.core import VIOLATION_PERCENT
from overthink.errors import ConfigError

__all__ = ["TABLES", "Analysis", "analyze", "scaling_verdicts"]

TABLES = (
    "curves", "verdicts", "natural_rank", "natural_bins", "cube", "cube_slopes", "pools",
    "pareto", "cheapest", "drift", "ab",
)  # fmt: skip
"""Names of the DataFrame fields of :class:`Analysis`, in output order."""


@dataclass
class Analysis:
    """Every table of an analysis (column lists: the ``*_COLUMNS`` constants)."""

    curves: pd.DataFrame
    verdicts: pd.DataFrame
    natural_rank: pd.DataFrame
    natural_bins: pd.DataFrame
    cube: pd.DataFrame
    cube_slopes: pd.DataFrame
    pools: pd.DataFrame
    pareto: pd.DataFrame
    cheapest: pd.DataFrame
    drift: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DRIFT_TABLE_COLUMNS))
    """Spurious-feature drift on regression tasks with known generating weights
    (``grades_regression``): per budget, how the predictions follow each feature compared
    with the true grades (see :func:`overthink.analysis.drift.feature_drift`)."""
    ab: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=AB_COLUMNS))
    """Controlled (forced/native) vs natural budgets, paired per question, at each budget
    and at matched reasoning length (see :mod:`overthink.analysis.ab`)."""
    conclusion: Conclusion = field(default_factory=Conclusion)
    """Plain-language findings from the tests that passed, and the one next step."""
    warnings: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    """The arguments the analysis ran with (for reproducibility)."""

    def tables(self) -> dict[str, pd.DataFrame]:
        """Name → DataFrame, in :data:`TABLES` order."""
        return {name: getattr(self, name) for name in TABLES}

    def to_json(self) -> str:
        """Machine-readable output: params, warnings and every table as a list of rows."""
        payload: dict[str, Any] = {
            "params": self.params,
            "warnings": list(self.warnings),
            "conclusion": {
                "findings": self.conclusion.findings,
                "next_step": self.conclusion.next_step,
            },
        }
        # Which metric each task reports and which way is better, in words.
        payload["metrics"] = metric_rows(self.curves)
        for name, df in self.tables().items():
            payload[name] = json.loads(df.to_json(orient="records", double_precision=10))
        return json.dumps(payload, indent=1, default=str)

    def write_csv(self, directory: str | Path) -> list[Path]:
        """Write ``<table>.csv`` per table (and ``warnings.txt``) into ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, df in self.tables().items():
            path = out / f"{name}.csv"
            df.to_csv(path, index=False)
            paths.append(path)
        warn = out / "warnings.txt"
        warn.write_text("".join(f"{w}\n" for w in self.warnings))
        paths.append(warn)
        summary = out / "conclusion.txt"
        summary.write_text("".join(f"{line}\n" for line in self.conclusion.lines()))
        paths.append(summary)
        return paths


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=columns)


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    if not rows:
        return _empty(columns)
    return pd.DataFrame(rows)[columns]


_CHECKS = (
    ("failed", "errored (excluded from every metric)"),
    ("parse_failure", "had no parseable answer"),
    ("budget_violation", f"exceeded their budget by more than {VIOLATION_PERCENT}"),
    ("empty_answer", "had an empty answer"),
)


def _group_warnings(group: Group) -> list[str]:
    n = len(group.arrays["failed"])
    out = []
    counts = [(int(group.arrays[column].sum()), what) for column, what in _CHECKS]
    truncated = np.asarray(group.arrays["truncated_in_reasoning"], dtype=bool)
    forced = np.asarray(group.arrays["budget_mode"]) == "forced"
    # Under forced budgets a cut at the cap is the budget working (the answer is forced
    # afterwards), so it is reported as such rather than as lost output.
    counts.append((int((truncated & forced).sum()), "hit their forced cap (answer forced after)"))
    counts.append((int((truncated & ~forced).sum()), "were cut off inside their reasoning"))
    unknown = np.isnan(group.arrays["reasoning_tokens"]) & ~group.arrays["failed"]
    counts.append((int(unknown.sum()), "have no reasoning token count (left out of lengths)"))
    for count, what in counts:
        if count:
            share = 100.0 * count / n
            out.append(
                f"{group.task} / {group.model}: {count} of {n} records {what} ({share:.1f} %)"
            )
    return out


@dataclass
class _Rows:
    """Rows accumulated over the groups, one list per output table."""

    curves: list[dict[str, Any]] = field(default_factory=list)
    ranks: list[dict[str, Any]] = field(default_factory=list)
    bins: list[dict[str, Any]] = field(default_factory=list)
    cube: list[dict[str, Any]] = field(default_factory=list)
    slopes: list[dict[str, Any]] = field(default_factory=list)
    pools: list[dict[str, Any]] = field(default_factory=list)
    ab: list[dict[str, Any]] = field(default_factory=list)
    fits: list[CurveFit] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _analyse_group(
    group: Group,
    rows: _Rows,
    *,
    cost: str,
    prices: Mapping[str, float] | None,
    shapes: Mapping[str, ModelShape] | None,
    intensity: float,
    n_bins: int,
    seed: int,
) -> None:
    rows.warnings.extend(_group_warnings(group))
    curves, fits = group_curves(group)
    rows.curves.extend(curves)
    ranks, bins, natural_fits = group_natural(group, n_bins=n_bins)
    rows.ranks.extend(ranks)
    rows.bins.extend(bins)
    # A natural run is one "budget": its verdict comes from the length ranks instead.
    rows.fits.extend(f for f in fits if f.key["budget_mode"] != NATURAL_MODE)
    rows.fits.extend(natural_fits)
    cube, slopes = group_cube(group, n_bins=n_bins)
    rows.cube.extend(cube)
    rows.slopes.extend(slopes)
    rows.ab.extend(group_ab(group))
    price = price_for(group.model, prices)
    shape = shape_for(group.model, shapes)
    if cost == "usd" and price is None:
        rows.warnings.append(
            f"{group.model}: no price known; give one with --prices FILE "
            f"(YAML '{group.model}: usd_per_million_tokens'; API: prices=)"
        )
    if cost == "eflops" and shape is None:
        rows.warnings.append(
            f"{group.model}: no model shape known for eFLOPs; give one with --shapes FILE "
            f"(YAML '{group.model}: {{params, layers, heads, kv_heads, head_dim}}'; API: shapes=)"
        )
    rows.pools.extend(
        group_pools(
            group,
            PoolCosts(price=price, shape=shape, intensity=intensity),
            seed_rng=rng_for(seed, "pools", group.task, group.model),
        )
    )


def _as_frame(df: pd.DataFrame | str | Path) -> pd.DataFrame:
    # Analysis reads no model text: leave it out of the frame (flat memory on big stores).
    frame = load_run(df, text=False) if isinstance(df, str | Path) else df
    if not set(DERIVED_COLUMNS) <= set(frame.columns):
        frame = prepare(frame)
    return frame


def _split(
    frame: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Single-sample records, strategy records, and the question and base-item codes of
    the former (see :mod:`overthink.analysis.groups`)."""
    is_single = (frame["strategy"].astype(str) == "single").to_numpy()
    single = frame[is_single].reset_index(drop=True)
    strategy_records = frame[~is_single].reset_index(drop=True)
    question_codes = pd.factorize(single["question"])[0].astype(np.int64)
    return single, strategy_records, question_codes, _base_codes(single, question_codes)


def _grouped(
    frame: pd.DataFrame, by: str | None, *, n_boot: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, Iterator[Group]]:
    """Single-sample records, strategy records, and the (lazy) groups of the former."""
    knobs = resolve_knobs(frame, by) if len(frame) else {}
    single, strategy_records, question_codes, base_codes = _split(frame)
    groups = iter_groups(
        single, knobs, n_boot=n_boot, seed=seed, question_codes=question_codes,
        base_codes=base_codes,
    )  # fmt: skip
    return single, strategy_records, groups


def _base_codes(single: pd.DataFrame, question_codes: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Base item per record (see :func:`~overthink.analysis.frame.base_item_keys`)."""
    if single.empty:
        return question_codes
    return pd.factorize(base_item_keys(single))[0].astype(np.int64)


def scaling_verdicts(
    df: pd.DataFrame | str | Path,
    *,
    by: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = DEFAULT_ALPHA,
    adjust: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Only the scaling curves and their verdicts: the fast path of :func:`analyze`.

    Same numbers as ``analyze`` gives for these two tables (same seeds, same resamples).
    ``adjust=False`` decides verdicts on raw p-values instead of Benjamini–Hochberg ones.
    """
    frame = _as_frame(df)
    _, _, groups = _grouped(frame, by, n_boot=n_boot, seed=seed)
    rows: list[dict[str, Any]] = []
    fits: list[CurveFit] = []
    with single_threaded_blas():
        for group in groups:
            group_rows, group_fits = group_curves(group)
            rows.extend(group_rows)
            fits.extend(f for f in group_fits if f.key["budget_mode"] != NATURAL_MODE)
            fits.extend(group_natural(group)[2])
        table = verdicts(fits, alpha=alpha, adjust=adjust) if fits else _empty(VERDICT_COLUMNS)
    return annotate(_frame(rows, CURVE_COLUMNS), table, task_polarity(frame))


def analyze(
    df: pd.DataFrame | str | Path,
    *,
    by: str | None = None,
    cost: str = "tokens",
    n_boot: int = 1000,
    seed: int = 0,
    prices: Mapping[str, float] | None = None,
    target_metric: float | None = None,
    alpha: float = DEFAULT_ALPHA,
    shapes: Mapping[str, ModelShape] | None = None,
    intensity: float = DEFAULT_INTENSITY,
    n_bins: int = 5,
) -> Analysis:
    """Run every analysis on records (a ``records_frame`` DataFrame or a run folder).

    ``by`` — knob to break each task down by (``"distractors"`` → column
    ``meta.distractors``); ``None`` auto-detects each task's knobs, ``"all"`` pools them.
    Rows with ``level == "all"`` (knob ``""``) always pool every level.
    ``cost`` — Pareto cost axis, one of ``tokens``, ``usd``, ``latency``, ``eflops``.
    ``n_boot`` — bootstrap resamples for every interval; ``seed`` makes them reproducible.
    ``prices`` — USD per million tokens per model (``"model:input"``/``"model:output"``
    keys price the two separately), over the built-in table.
    ``target_metric`` — ``cheapest`` picks the cheapest configuration reaching it; without
    it, the cheapest one within the best configuration's 95 % interval.
    ``alpha`` — significance level of the verdicts (after Benjamini–Hochberg).
    ``shapes`` / ``intensity`` — model shapes and FLOPs-per-byte for the eFLOPs axis.

    Raises :class:`ConfigError` for an unknown ``by`` knob or ``cost`` axis, or a missing
    run folder.
    """
    if cost not in COST_AXES:
        raise ConfigError(f"unknown cost axis {cost!r} (accepted: {', '.join(COST_AXES)})")
    if n_boot < 1:
        raise ConfigError(f"n_boot must be at least 1 (got {n_boot})")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must be between 0 and 1 (got {alpha})")
    frame = _as_frame(df)
    params = {
        "by": by, "cost": cost, "n_boot": n_boot, "seed": seed, "alpha": alpha,
        "target_metric": target_metric, "intensity": intensity, "n_bins": n_bins,
        "prices": dict(prices or {}), "n_records": len(frame),
    }  # fmt: skip
    single, strategy_records, groups = _grouped(frame, by, n_boot=n_boot, seed=seed)
    rows = _Rows()
    with single_threaded_blas():
        for group in groups:
            _analyse_group(
                group, rows, cost=cost, prices=prices, shapes=shapes, intensity=intensity,
                n_bins=n_bins, seed=seed,
            )  # fmt: skip
        pools = _frame(rows.pools, POOL_COLUMNS)
        front = pareto(
            pools, strategy_records, cost=cost, prices=prices, shapes=shapes,
            intensity=intensity, n_boot=n_boot, seed=seed,
        )  # fmt: skip
        best = cheapest(front, target_metric) if len(front) else _empty(CHEAPEST_COLUMNS)
        verdict_table = verdicts(rows.fits, alpha=alpha) if rows.fits else _empty(VERDICT_COLUMNS)
    warnings = rows.warnings
    if target_metric is not None:
        for task in sorted(set(front["task"]) - set(best["task"])):
            warnings.append(f"{task}: no configuration reaches the target metric {target_metric:g}")
    slopes_table = _frame(rows.slopes, SLOPE_COLUMNS)
    ab_table = _frame(rows.ab, AB_COLUMNS)
    curve_table, verdict_table = annotate(
        _frame(rows.curves, CURVE_COLUMNS), verdict_table, task_polarity(single)
    )
    return Analysis(
        curves=curve_table,
        verdicts=verdict_table,
        natural_rank=_frame(rows.ranks, RANK_COLUMNS),
        natural_bins=_frame(rows.bins, BIN_COLUMNS),
        cube=_frame(rows.cube, CUBE_COLUMNS),
        cube_slopes=slopes_table,
        pools=pools,
        pareto=front if len(front) else _empty(PARETO_COLUMNS),
        cheapest=best,
        drift=run_drift(single),
        ab=ab_table,
        conclusion=conclude(verdict_table, slopes_table, ab_table, alpha=alpha),
        warnings=warnings,
        params=params,
    )
