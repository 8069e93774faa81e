"""The report's figures, drawn with matplotlib's object API.

Every function takes analysis frames (or the records frame), returns a ``Figure`` or
``None`` when there is nothing to draw, and never touches pyplot: building ``Figure``
objects directly keeps the global backend and figure registry of a user who imports the
library untouched, and needs no display.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogFormatter, MaxNLocator

from overthink.formatting import is_missing
from overthink.report.style import (
    LINESTYLES,
    MARKERS,
    OKABE_ITO,
    LineStyle,
    budget_labels,
    budget_order,
    cost_label,
    level_label,
    metric_label,
    series_colour,
)

__all__ = [
    "budget_adherence",
    "cube_heatmap",
    "natural_bins",
    "natural_rank",
    "pareto_front",
    "scaling_curves",
]

_PANEL_W = 4.8
# Line plots carry their legend to the right of the axes.
_LEGEND_W = 1.5
_PANEL_H = 3.5
_MAX_COLS = 2  # wider figures get scaled down in the page until labels are unreadable
# Jittered points drawn over each box: enough to show the shape, few enough that the
# SVG of a 50,000-record run stays small.
_STRIP_POINTS = 80
_FRONT_LABELS = 10


def _tokens_text(value: float, _pos: object = None) -> str:
    """Tick label for a token count: 1, 10, 100, 1k, 10k (no mathtext: cheaper and plainer)."""
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


class _TokenFormatter(LogFormatter):
    """matplotlib's choice of which log ticks to label (minor ones too on short axes),
    written as plain token counts instead of mathtext powers of ten."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        shown = super().__call__(x, pos)
        return _tokens_text(x) if shown and x > 0 else ""


def _token_axis(axis: Any) -> None:
    axis.set_major_formatter(_TokenFormatter(labelOnlyBase=False))
    axis.set_minor_formatter(_TokenFormatter(labelOnlyBase=False))


def _panels(n: int, *, extra_h: float = 0.0, extra_w: float = 0.0) -> tuple[Figure, list[Axes]]:
    cols = min(n, _MAX_COLS)
    rows = math.ceil(n / cols)
    size = ((_PANEL_W + extra_w) * cols, _PANEL_H * rows + extra_h)
    fig = Figure(figsize=size, layout="constrained")
    grid = fig.subplots(rows, cols, squeeze=False)
    axes = list(grid.ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _sorted_unique(values: Iterable[Any]) -> list[Any]:
    """Unique values in natural order (numbers numerically, missing first)."""
    seen: list[Any] = []
    for v in values:
        if is_missing(v):
            v = None
        if v not in seen:
            seen.append(v)

    def key(v: Any) -> tuple[int, float, str]:
        if v is None:
            return (0, 0.0, "")
        if isinstance(v, int | float | np.integer | np.floating):
            return (1, float(v), "")
        return (2, 0.0, str(v))

    return sorted(seen, key=key)


def _norm(value: Any) -> Any:
    return None if is_missing(value) else value


def _group_keys(frame: pd.DataFrame, cols: Sequence[str]) -> list[tuple[Any, ...]]:
    present = [c for c in cols if c in frame.columns]
    rows = frame[present].itertuples(index=False, name=None) if present else iter([()] * len(frame))
    keys: list[tuple[Any, ...]] = []
    for row in rows:
        values = dict(zip(present, row, strict=True))
        key = tuple(_norm(values.get(c)) for c in cols)
        if key not in keys:
            keys.append(key)
    return keys


def _select(frame: pd.DataFrame, cols: Sequence[str], key: tuple[Any, ...]) -> pd.DataFrame:
    mask = np.ones(len(frame), dtype=bool)
    for col, value in zip(cols, key, strict=True):
        if col not in frame.columns:
            continue
        series = frame[col]
        if value is None:
            mask &= series.isna().to_numpy() | (series.astype(str) == "").to_numpy()
        else:
            mask &= (series == value).to_numpy()
    return frame[mask]


_METRIC_SHORT = {
    "accuracy": "accuracy", "safe_rate": "safe rate", "matching_rate": "matching rate",
    "mae": "MAE", "rmse": "RMSE",
}  # fmt: skip


def _task_panels(frame: pd.DataFrame) -> list[tuple[Any, Any]]:
    """(task, metric) per panel: a regression task reports MAE and RMSE, which do not
    share an axis, so each gets its own panel."""
    if "metric_name" not in frame.columns:
        return [(task, None) for task in _sorted_unique(frame["task"])]
    keys = _group_keys(frame, ["task", "metric_name"])
    return sorted(keys, key=lambda k: (str(k[0]), str(k[1])))


def _task_panel(
    frame: pd.DataFrame, key: tuple[Any, Any], several: bool
) -> tuple[pd.DataFrame, str]:
    task, metric = key
    if metric is None:
        return _select(frame, ["task"], (task,)), str(task)
    sub = _select(frame, ["task", "metric_name"], key)
    title = f"{task} — {_METRIC_SHORT.get(str(metric), str(metric))}" if several else str(task)
    return sub, title


def _panel_title(task: Any, model: Any | None = None) -> str:
    return str(task) if model is None else f"{task} — {model}"


def _metric_axis(ax: Axes, frame: pd.DataFrame) -> None:
    names = _sorted_unique(frame["metric_name"]) if "metric_name" in frame.columns else []
    label = metric_label(names[0]) if len(names) == 1 else "metric (as in the scaling curves)"
    ax.set_ylabel(label, fontsize=8)


@dataclass(frozen=True)
class _LevelStyle:
    colour: str
    linestyle: LineStyle
    linewidth: float
    label: str


def _is_pooled(knob: Any, level: Any) -> bool:
    """The analysis's "all levels pooled" row: knob "" and level "all"."""
    return is_missing(knob) and (is_missing(level) or str(level) == "all")


def _level_styles(frame: pd.DataFrame) -> dict[Any, _LevelStyle]:
    """Colour per knob level; the pooled "all" line is black and thicker so it reads as the
    summary of the coloured ones. Past the seven palette colours the line style changes."""
    styles: dict[Any, _LevelStyle] = {}
    if "level" not in frame.columns:
        return {None: _LevelStyle(series_colour(0), "-", 1.5, "all")}
    knobs = frame["knob"] if "knob" in frame.columns else pd.Series(None, index=frame.index)
    knob_of: dict[Any, Any] = {}
    for knob, level in zip(knobs, frame["level"], strict=True):
        knob_of.setdefault(_norm(level), _norm(knob))
    colours = [c for c in OKABE_ITO if c != "#000000"]
    index = 0
    for level in _sorted_unique(frame["level"]):
        knob = knob_of.get(level)
        if _is_pooled(knob, level):
            styles[level] = _LevelStyle("#000000", "-", 2.2, "all levels pooled")
            continue
        style = LINESTYLES[(index // len(colours)) % len(LINESTYLES)]
        styles[level] = _LevelStyle(
            colours[index % len(colours)], style, 1.5, level_label(knob, level)
        )
        index += 1
    return styles


def _line_series(
    ax: Axes,
    frame: pd.DataFrame,
    *,
    x_col: str,
    series_cols: Sequence[str],
    log_x: bool,
) -> None:
    """One line with a CI band per series: colour by knob level, line style by model,
    marker by budget mode; the legend lists each of those once (outside the axes)."""
    levels = _level_styles(frame)
    models = _sorted_unique(frame["model"]) if "model" in frame.columns else [None]
    modes = _sorted_unique(frame["budget_mode"]) if "budget_mode" in frame.columns else [None]
    used_levels: list[Any] = []
    used_models: set[int] = set()
    used_modes: set[int] = set()
    any_x = False
    for key in _group_keys(frame, series_cols):
        part = dict(zip(series_cols, key, strict=True))
        sub = _select(frame, series_cols, key).sort_values(x_col)
        x = sub[x_col].to_numpy(dtype=float)
        if log_x:
            # Budget "none" spends ~0 tokens; a log axis cannot show 0, so it sits at 1.
            x = np.maximum(x, 1.0)
        any_x = any_x or bool(np.isfinite(x).any())
        y = sub["metric"].to_numpy(dtype=float)
        level = levels.get(part.get("level")) or next(iter(levels.values()))
        mi = models.index(part.get("model")) if part.get("model") in models else 0
        bi = modes.index(part.get("budget_mode")) if part.get("budget_mode") in modes else 0
        linestyle = level.linestyle if mi == 0 else LINESTYLES[mi % len(LINESTYLES)]
        ax.plot(
            x,
            y,
            linestyle=linestyle,
            marker=MARKERS[bi % len(MARKERS)],
            markersize=4,
            color=level.colour,
            linewidth=level.linewidth,
            zorder=3,
        )
        if {"ci_low", "ci_high"} <= set(sub.columns):
            lo = sub["ci_low"].to_numpy(dtype=float)
            hi = sub["ci_high"].to_numpy(dtype=float)
            if np.isfinite(lo).any() and np.isfinite(hi).any():
                ax.fill_between(x, lo, hi, color=level.colour, alpha=0.12, linewidth=0)
        if level not in used_levels:
            used_levels.append(level)
        used_models.add(mi)
        used_modes.add(bi)
    # No known x at all (e.g. a provider that reports no reasoning tokens: -1, unknown):
    # a log axis would have nothing to scale and matplotlib raises when saving.
    if log_x and any_x:
        ax.set_xscale("log")
        _token_axis(ax.xaxis)
    ax.grid(True, alpha=0.3, linewidth=0.5)
    ax.tick_params(which="both", labelsize=8)
    handles = [
        Line2D(
            [], [], color=lv.colour, linestyle=lv.linestyle, linewidth=lv.linewidth, label=lv.label
        )
        for lv in used_levels
    ]
    if len(used_models) > 1:
        handles += [
            Line2D(
                [],
                [],
                color="#555555",
                linestyle=LINESTYLES[mi % len(LINESTYLES)],
                label=str(models[mi]),
            )
            for mi in sorted(used_models)
        ]
    if any(modes[bi] is not None for bi in used_modes):
        handles += [
            Line2D(
                [],
                [],
                color="#555555",
                linestyle="none",
                marker=MARKERS[bi % len(MARKERS)],
                markersize=4,
                label=f"budget: {modes[bi]}",
            )
            for bi in sorted(used_modes)
        ]
    if handles:
        # Outside the axes: inside, "best" still lands on CI bands that fill the panel.
        ax.legend(
            handles=handles,
            fontsize=7,
            frameon=False,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
        )


def scaling_curves(curves: pd.DataFrame) -> Figure | None:
    """Metric vs mean observed reasoning tokens (log x), one panel per task.

    One line per knob level (and per model / budget mode when several), bootstrap CI
    bands, and the requested budgets marked as dotted verticals with ticks on the top axis.
    """
    if curves.empty or "x_tokens" not in curves.columns:
        return None
    panels = _task_panels(curves)
    several = len({k[0] for k in panels}) < len(panels)
    fig, axes = _panels(len(panels), extra_w=_LEGEND_W)
    for ax, key in zip(axes, panels, strict=True):
        sub, title = _task_panel(curves, key, several)
        _line_series(
            ax,
            sub,
            x_col="x_tokens",
            series_cols=["model", "budget_mode", "knob", "level"],
            log_x=True,
        )
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("observed reasoning tokens (mean per trial, log scale)", fontsize=8)
        _metric_axis(ax, sub)
        requested = sorted(
            {int(b) for b in sub.get("budget_tokens", pd.Series(dtype=float)).dropna() if b > 0}
        )
        if requested:
            for b in requested:
                ax.axvline(b, color="#777777", linestyle=":", linewidth=0.8, zorder=0)
            top = ax.secondary_xaxis("top")
            top.set_xticks(requested)
            top.set_xticklabels([str(b) for b in requested], fontsize=7)
            top.set_xlabel("requested budget (tokens)", fontsize=8)
            top.minorticks_off()
    return fig


def natural_rank(frame: pd.DataFrame) -> Figure | None:
    """Natural budget: metric by length rank among a question's samples (1 = shortest)."""
    if frame.empty or "rank" not in frame.columns:
        return None
    panels = _task_panels(frame)
    several = len({k[0] for k in panels}) < len(panels)
    fig, axes = _panels(len(panels), extra_w=_LEGEND_W)
    for ax, key in zip(axes, panels, strict=True):
        sub, title = _task_panel(frame, key, several)
        _line_series(ax, sub, x_col="rank", series_cols=["model", "knob", "level"], log_x=False)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("length rank among a question's samples (1 = shortest)", fontsize=8)
        _metric_axis(ax, sub)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def natural_bins(frame: pd.DataFrame) -> Figure | None:
    """Natural budget: metric by reasoning-length quantile bin (x = bin mean, log scale)."""
    if frame.empty or "mean_tokens" not in frame.columns:
        return None
    panels = _task_panels(frame)
    several = len({k[0] for k in panels}) < len(panels)
    fig, axes = _panels(len(panels), extra_w=_LEGEND_W)
    for ax, key in zip(axes, panels, strict=True):
        sub, title = _task_panel(frame, key, several)
        _line_series(
            ax, sub, x_col="mean_tokens", series_cols=["model", "knob", "level"], log_x=True
        )
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("reasoning tokens (mean of the length quantile bin, log scale)", fontsize=8)
        _metric_axis(ax, sub)
    return fig


def budget_adherence(records: pd.DataFrame, *, seed: int = 0) -> Figure | None:
    """Requested vs observed reasoning tokens: a box per requested budget, one panel per model.

    The requested cap is drawn as a vermillion tick on each box and the share of trials
    that exceeded it (``budget_violation``) is printed above, so budgets that are not
    honoured stand out.
    """
    needed = {"budget_mode", "budget_tokens", "reasoning_tokens", "model"}
    if records.empty or not needed <= set(records.columns):
        return None
    frame = records.assign(_label=budget_labels(records))
    models = _sorted_unique(frame["model"])
    fig, axes = _panels(len(models))
    rng = np.random.default_rng(seed)
    for ax, model in zip(axes, models, strict=True):
        sub = _select(frame, ["model"], (model,))
        labels = sorted(sub["_label"].unique(), key=budget_order)
        data = [
            sub.loc[sub["_label"] == lab, "reasoning_tokens"].to_numpy(dtype=float)
            for lab in labels
        ]
        positions = np.arange(1, len(labels) + 1)
        ax.boxplot(
            data,
            positions=positions,
            widths=0.55,
            showfliers=False,
            patch_artist=True,
            boxprops={"facecolor": "#56B4E9", "alpha": 0.35, "edgecolor": "#0072B2"},
            medianprops={"color": "#0072B2", "linewidth": 1.5},
            whiskerprops={"color": "#0072B2"},
            capprops={"color": "#0072B2"},
        )
        for pos, values in zip(positions, data, strict=True):
            if len(values) > _STRIP_POINTS:
                values = rng.choice(values, _STRIP_POINTS, replace=False)
            jitter = rng.uniform(-0.18, 0.18, len(values))
            ax.scatter(pos + jitter, values, s=5, color="#000000", alpha=0.35, linewidths=0)
        for pos, lab in zip(positions, labels, strict=True):
            rows = sub[sub["_label"] == lab]
            requested = int(rows["budget_tokens"].iloc[0])
            if requested > 0:
                ax.hlines(requested, pos - 0.38, pos + 0.38, color="#D55E00", linewidth=2)
            if "budget_violation" in rows.columns and requested > 0:
                share = float(rows["budget_violation"].astype(bool).mean())
                ax.annotate(
                    f"{share:.0%} over",
                    (pos, 1.0),
                    xycoords=("data", "axes fraction"),
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color="#D55E00" if share > 0 else "#555555",
                )
        ax.set_xticks(positions)
        ax.set_xticklabels(labels, rotation=35, ha="right", fontsize=7)
        ax.set_yscale("symlog", linthresh=10)
        _token_axis(ax.yaxis)
        ax.set_xlabel("requested budget (mode:tokens)", fontsize=8)
        ax.set_ylabel("observed reasoning tokens (symlog scale)", fontsize=8)
        ax.set_title(_panel_title(model), fontsize=10, pad=14)
        ax.grid(True, axis="y", alpha=0.3, linewidth=0.5)
        ax.tick_params(axis="y", which="both", labelsize=8)
        ax.plot([], [], color="#D55E00", linewidth=2, label="requested cap")
        ax.legend(fontsize=7, loc="upper left", frameon=False)
    return fig


def _short_label(label: Any, model: Any, single_model: bool) -> str:
    text = str(label)
    prefix = f"{model} "
    return text[len(prefix) :] if single_model and text.startswith(prefix) else text


_DOMINATED: dict[str, Any] = {"s": 16, "alpha": 0.25, "linewidths": 0}
_ON_FRONT: dict[str, Any] = {"s": 32, "edgecolors": "#000000", "linewidths": 0.6, "zorder": 3}


def _pareto_points(
    ax: Axes, sub: pd.DataFrame, strategies: list[Any], front_mask: npt.NDArray[np.bool_]
) -> None:
    """One task's configurations per strategy: dominated ones faded, the front outlined."""
    for si, strategy in enumerate(strategies):
        mine = (sub["strategy"] == strategy).to_numpy() if strategy is not None else True
        colour, marker = series_colour(si), MARKERS[si % len(MARKERS)]
        name = "all" if strategy is None else str(strategy)
        for part, what, style in (
            (sub[mine & ~front_mask], "dominated", _DOMINATED),
            (sub[mine & front_mask], "on front", _ON_FRONT),
        ):
            if len(part):
                ax.scatter(
                    part["cost"], part["metric"], color=colour, marker=marker,
                    label=f"{name} ({what})", **style,
                )  # fmt: skip


def _ring(ax: Axes, pick: pd.DataFrame) -> None:
    """Ring the analysis's cheapest good-enough configuration."""
    if len(pick):
        ax.scatter(
            pick["cost"],
            pick["metric"],
            s=150,
            facecolors="none",
            edgecolors="#D55E00",
            linewidths=1.6,
            zorder=4,
            label="cheapest good-enough",
        )


def pareto_front(frame: pd.DataFrame, cheapest: pd.DataFrame | None = None) -> Figure | None:
    """Cost vs metric per task; dominated configurations faded, the front joined and labelled.

    ``cheapest`` (the analysis's pick per task) is ringed. Configurations without a cost on
    the chosen axis (e.g. no known price) are left out.
    """
    if frame.empty or not {"cost", "metric"} <= set(frame.columns):
        return None
    frame = frame[np.isfinite(frame["cost"].to_numpy(dtype=float))]
    if frame.empty:
        return None
    tasks = _sorted_unique(frame["task"])
    fig, axes = _panels(len(tasks), extra_w=_LEGEND_W)
    strategies = _sorted_unique(frame["strategy"]) if "strategy" in frame.columns else [None]
    single_model = "model" not in frame.columns or frame["model"].nunique() <= 1
    for ax, task in zip(axes, tasks, strict=True):
        sub = _select(frame, ["task"], (task,))
        front_mask = (
            sub["on_front"].fillna(False).astype(bool).to_numpy()
            if "on_front" in sub.columns
            else np.zeros(len(sub), dtype=bool)
        )
        _pareto_points(ax, sub, strategies, front_mask)
        front_all = sub[front_mask].sort_values("cost")
        if len(front_all) > 1:
            ax.plot(
                front_all["cost"],
                front_all["metric"],
                color="#000000",
                linewidth=0.9,
                drawstyle="steps-post",
                zorder=2,
                label="Pareto front",
            )
        for _, row in front_all.head(_FRONT_LABELS).iterrows():
            text = _short_label(row.get("label", ""), row.get("model"), single_model)
            ax.annotate(
                text,
                (row["cost"], row["metric"]),
                fontsize=6.5,
                xytext=(4, 4),
                textcoords="offset points",
            )
        if cheapest is not None and not cheapest.empty and "task" in cheapest.columns:
            _ring(ax, cheapest[cheapest["task"] == task])
        axis = sub["cost_axis"].iloc[0] if "cost_axis" in sub.columns else "tokens"
        if (sub["cost"] > 0).all():
            ax.set_xscale("log")
            if axis == "tokens":
                _token_axis(ax.xaxis)
        ax.set_xlabel(cost_label(axis), fontsize=8)
        names = _sorted_unique(sub["metric_name"]) if "metric_name" in sub.columns else []
        ax.set_ylabel(metric_label(names[0]) if len(names) == 1 else "metric", fontsize=8)
        ax.set_title(_panel_title(task), fontsize=10)
        ax.grid(True, alpha=0.3, linewidth=0.5)
        ax.tick_params(which="both", labelsize=8)
        ax.legend(
            fontsize=7,
            frameon=False,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
        )
    return fig


def _bin_text(row: pd.Series) -> str:
    lo, hi = row.get("bin_low"), row.get("bin_high")
    if lo is None or hi is None or is_missing(lo) or is_missing(hi):
        return str(row.get("length_bin"))
    return f"{float(lo):.0f}–{float(hi):.0f}"


def cube_heatmap(cube: pd.DataFrame, metric_names: dict[Any, str] | None = None) -> Figure | None:
    """The (knob level × reasoning-length bin) cube: one heatmap per task, model and mode.

    Cells carry the metric and the trial count; the colour map is cividis (readable in
    greyscale and under colour-vision deficiency), reversed for lower-is-better metrics so
    that "better" is always the bright end.
    """
    if cube.empty or not {"length_bin", "metric"} <= set(cube.columns):
        return None
    # One heatmap per budget mode too: lengths under a forced cap and natural lengths
    # are not the same axis.
    cols = ["task", "model", "budget_mode"]
    keys = _group_keys(cube, cols)
    fig, axes = _panels(len(keys), extra_h=0.3)
    for ax, key in zip(axes, keys, strict=True):
        sub = _select(cube, cols, key)
        levels = _sorted_unique(sub["level"]) if "level" in sub.columns else [None]
        bins = sorted(sub["length_bin"].dropna().unique())
        grid = np.full((len(levels), len(bins)), np.nan)
        counts = np.zeros_like(grid)
        bin_names: dict[Any, str] = {}
        for _, row in sub.iterrows():
            li = levels.index(_norm(row.get("level"))) if "level" in sub.columns else 0
            bi = bins.index(row["length_bin"])
            grid[li, bi] = float(row["metric"])
            counts[li, bi] = float(row.get("n", 0) or 0)
            bin_names.setdefault(row["length_bin"], _bin_text(row))
        if "metric_name" in sub.columns and sub["metric_name"].notna().any():
            metric_name = str(sub["metric_name"].dropna().iloc[0])
        else:
            metric_name = (metric_names or {}).get(key[0], "accuracy")
        lower_better = metric_name in ("mae", "rmse")
        cmap = "cividis_r" if lower_better else "cividis"
        image = ax.imshow(grid, aspect="auto", cmap=cmap, interpolation="nearest")
        finite = grid[np.isfinite(grid)]
        mid = float(np.nanmean(finite)) if finite.size else 0.0
        for (li, bi), value in np.ndenumerate(grid):
            if not math.isfinite(value):
                continue
            bright = (value > mid) != lower_better
            ax.text(
                bi,
                li,
                f"{value:.2f}\nn={int(counts[li, bi])}",
                ha="center",
                va="center",
                fontsize=6.5,
                color="#000000" if bright else "#FFFFFF",
            )
        knobs = sub["knob"] if "knob" in sub.columns else pd.Series(dtype=object)
        knob = next((k for k in knobs if not is_missing(k)), None)
        ax.set_yticks(range(len(levels)))
        ax.set_yticklabels(
            [level_label(None, lv) if lv is not None else "all" for lv in levels], fontsize=7
        )
        ax.set_xticks(range(len(bins)))
        ax.set_xticklabels([bin_names[b] for b in bins], rotation=35, ha="right", fontsize=7)
        ax.set_xlabel("reasoning-length bin (tokens)", fontsize=8)
        ax.set_ylabel(f"knob level ({knob})" if knob else "knob level", fontsize=8)
        mode = f" · {key[2]}" if key[2] is not None else ""
        ax.set_title(_panel_title(key[0], key[1]) + mode, fontsize=10)
        bar = fig.colorbar(image, ax=ax, shrink=0.85)
        bar.set_label(metric_label(metric_name), fontsize=7)
        bar.ax.tick_params(labelsize=7)
    return fig
