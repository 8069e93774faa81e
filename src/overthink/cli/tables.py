"""The tables and summaries commands print, in one place (``run``, ``analyze``, ``verify``).

Every rich table the command modules share lives here, so no command imports another.
Imports nothing heavier than pandas at module level; the analysis result is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from overthink.formatting import MISSING, fmt_interval, fmt_spec

if TYPE_CHECKING:
    from overthink.analysis import Analysis
    from overthink.strategies import ApplySummary

__all__ = [
    "ab_table",
    "cheapest_table",
    "drift_table",
    "pool_tables",
    "print_apply_summary",
    "print_conclusion",
    "summary_tables",
    "verdict_table",
]

# --- overthink run: metric (95 % CI) per budget × knob level ---


def _short(x: float) -> str:
    text = f"{x:.2f}"
    # ".58" rather than "0.58": with the CI on a second line, five knob levels then fit
    # an 80-column terminal.
    return text.replace("0.", ".", 1) if text.startswith("0.") else text


def _summary_cell(row: pd.Series) -> str:
    return f"{_short(row['metric'])}\n[{_short(row['ci_low'])},{_short(row['ci_high'])}]"


def _polarity_caption(group: pd.DataFrame) -> str:
    """For a matching rate: how to read it (its polarity), on a line of its own."""
    from overthink.tasks.mwe_polarity import describe_polarity

    if "polarity" not in group.columns or str(group["polarity"].iloc[0]) == "":
        return ""
    measures = str(group["measures"].iloc[0]) if "measures" in group.columns else ""
    return "\n" + describe_polarity(str(group["polarity"].iloc[0]), measures)


def summary_tables(curves: pd.DataFrame) -> list[Table]:
    """One rich table per (task, model, budget mode): rows are requested budgets.

    Columns: the metric with its question-clustered bootstrap 95 % CI at each knob level
    and pooled over levels, then the mean observed reasoning tokens and the sample count.
    """
    tables: list[Table] = []
    if curves.empty:
        return tables
    for (task, model, mode), group in curves.groupby(["task", "model", "budget_mode"], sort=False):
        pooled = group[group["knob"] == ""]
        levelled = group[group["knob"] != ""]
        metric = str(group["metric_name"].iloc[0])
        knob_levels: list[tuple[str, object]] = [
            (str(knob), level)
            for (knob, level), _ in levelled.groupby(["knob", "level"], sort=False)
        ]
        knob_names = sorted({k for k, _ in knob_levels})
        axis = f" by {', '.join(knob_names)}" if knob_names else ""
        table = Table(
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            show_edge=False,
            title=f"{task} · {model} · {mode} budgets — {metric} (95% CI){axis}",
            caption="tok = mean observed reasoning tokens; n = records per budget (all levels)"
            + _polarity_caption(group),
        )
        table.add_column("budget", justify="right", no_wrap=True)
        for knob, level in knob_levels:
            header = str(level) if len(knob_names) == 1 else f"{knob}={level}"
            table.add_column(header, justify="center")
        table.add_column("all", justify="center")
        table.add_column("tok", justify="right")
        table.add_column("n", justify="right")
        for budget in sorted(group["budget_tokens"].unique()):
            at = group[group["budget_tokens"] == budget]
            cells = [str(budget)]
            for knob, level in knob_levels:
                hit = at[(at["knob"] == knob) & (at["level"] == level)]
                cells.append(_summary_cell(hit.iloc[0]) if len(hit) else "–")
            all_row = pooled[pooled["budget_tokens"] == budget]
            source = all_row.iloc[0] if len(all_row) else at.iloc[0]
            cells.append(_summary_cell(source))
            cells.append(f"{source['x_tokens']:.0f}")
            cells.append(str(int(source["n"])))
            table.add_row(*cells)
        tables.append(table)
    return tables


# --- verdicts, cheapest configurations, drift (overthink analyze and run) ---

_VERDICT_STYLE = {
    "inverse": "bold red",
    "peaked": "bold yellow",
    "positive": "green",
    "flat": "dim",
    "insufficient": "dim italic",
    "rises": "blue",
    "falls": "blue",
}


def _interval(point: Any, low: Any, high: Any, fmt: str = ".3g") -> str:
    if fmt_spec(low) == MISSING:
        return fmt_spec(point, fmt)
    return fmt_interval(point, low, high, fmt)


def _turning(row: pd.Series) -> str:
    fmt = ".0f"
    prefix = "rank " if row["basis"] == "natural_rank" else ""
    if fmt_spec(row["turning_point"]) == MISSING:
        return "–"
    if row["tp_low"] == row["tp_high"] or fmt_spec(row["tp_low"]) == MISSING:
        return prefix + fmt_spec(row["turning_point"], fmt)
    return (
        f"{prefix}{fmt_spec(row['turning_point'], fmt)} "
        f"[{fmt_spec(row['tp_low'], fmt)}, {fmt_spec(row['tp_high'], fmt)}]"
    )


def verdict_table(result: Analysis, *, single_points: bool = False) -> Table:
    """The verdicts as a rich table (one row per curve).

    Curves with a single point (e.g. ``none`` mode) have nothing to judge and are left
    out unless ``single_points``; the caption says how many.
    """
    table = Table(title="Does thinking longer hurt? (slope per doubling of reasoning tokens)")
    shown = result.verdicts
    if not single_points:
        shown = shown[shown["n_points"] > 1]
        hidden = len(result.verdicts) - len(shown)
        if hidden:
            table.caption = f"{hidden} single-point curves (e.g. budget mode none) not shown"
    # Columns that hold one value for every row move into the title, so the table fits.
    ident = {"task": "task", "model": "model", "mode": "budget_mode", "metric": "metric_name"}
    # Task and model names come from files and servers: never read them as rich markup.
    constant = {
        name: escape(str(shown[col].iloc[0]))
        for name, col in ident.items()
        if len(shown) and shown[col].nunique() == 1
    }
    if constant:
        table.title = f"{table.title}\n{' · '.join(constant.values())}"
    columns = [c for c in ("task", "model", "mode", "level", "metric") if c not in constant]
    columns += ["verdict", "slope [95% CI]", "ρ", "p adj", "turning point [CI]", "best → worst"]
    for col in columns:
        table.add_column(col, overflow="fold")
    for _, row in shown.iterrows():
        level = escape("all" if row["knob"] == "" else f"{row['knob']}={row['level']}")
        verdict = str(row["verdict"])
        cells = {
            "task": escape(str(row["task"])), "model": escape(str(row["model"])),
            "mode": escape(str(row["budget_mode"])), "level": level,
            "metric": str(row["metric_name"]),
            "verdict": f"[{_VERDICT_STYLE.get(verdict, '')}]{verdict}[/]",
            "slope [95% CI]": _interval(row["slope"], row["slope_low"], row["slope_high"], "+.3f"),
            "ρ": fmt_spec(row["rho"], "+.2f"), "p adj": fmt_spec(row["p_adjusted"], ".2g"),
            "turning point [CI]": _turning(row),
            "best → worst": f"{fmt_spec(row['best_metric'])} → {fmt_spec(row['worst_metric'])}",
        }  # fmt: skip
        table.add_row(*(cells[c] for c in columns))
    from overthink.analysis.polarity import polarity_notes

    notes = polarity_notes(shown)
    if notes:
        table.caption = "\n".join([*([str(table.caption)] if table.caption else []), *notes])
    return table


def cheapest_table(result: Analysis) -> Table:
    """The cheapest configuration per task that reaches the target metric."""
    table = Table(title=f"Cheapest configuration per task (cost: {result.params.get('cost')})")
    for col in ("task", "configuration", "metric [95% CI]", "cost", "criterion"):
        table.add_column(col, overflow="fold")
    for _, row in result.cheapest.iterrows():
        table.add_row(
            str(row["task"]), str(row["label"]),
            _interval(row["metric"], row["ci_low"], row["ci_high"]), fmt_spec(row["cost"], ".4g"),
            str(row["criterion"]),
        )  # fmt: skip
    return table


def drift_table(result: Analysis) -> Table | None:
    """Implied feature weights per budget (pooled levels) next to the true weights."""
    drift = result.drift
    if drift.empty:
        return None
    pooled = drift[drift["level"] == "all"]
    features = list(dict.fromkeys(pooled["feature"]))
    truth = pooled.drop_duplicates("feature").set_index("feature")["true_weight"]
    table = Table(
        title="Spurious-feature drift: grade points per unit of each feature that the "
        "predictions behave as if they used (only study hours are causal)"
    )
    for col in ("task", "model", "budget"):
        table.add_column(col, overflow="fold")
    for feat in features:
        short = feat.removesuffix("_hours").removesuffix("_level").replace("physical_", "")
        table.add_column(
            f"{short}\n(true {fmt_spec(truth[feat], '+.2f')})", justify="right", overflow="fold"
        )
    table.add_column("n", justify="right")
    keys = ["task", "model", "budget_mode", "budget_tokens"]
    for key, rows in pooled.groupby(keys, sort=False):
        weights = rows.set_index("feature")["pred_weight"]
        table.add_row(
            escape(str(key[0])), escape(str(key[1])), f"{key[2]}:{key[3]}",
            *(fmt_spec(weights.get(f), "+.2f") for f in features), str(int(rows["n"].iloc[0])),
        )  # fmt: skip
    return table


# --- pools of strategies: parallel vs sequential compute (run, analyze) ---

# More k columns than this and only powers of two (and N) are shown.
_MAX_K_COLUMNS = 6


def _ks(ks: Sequence[int]) -> list[int]:
    ks = sorted(set(ks))
    if len(ks) <= _MAX_K_COLUMNS:
        return ks
    return sorted({k for k in ks if k & (k - 1) == 0} | {ks[-1]})


def _budget(mode: str, tokens: int) -> str:
    return mode if mode in ("natural", "none") else f"{mode}:{tokens}"


def pool_tables(result: Analysis, strategies: Sequence[str]) -> list[Table]:
    """Per (task, model, strategy): metric and mean tokens per question, budget × k.

    The k = 1 column is one sample per question — the sequential curve down the budgets;
    the other columns are the pool estimate with k samples, and the last one the
    strategy's own records at k = N. ★ marks configurations on the Pareto front.
    """
    pools = result.pools
    if pools.empty:
        return []
    pools = pools[pools["level"] == "all"]
    front = result.pareto
    tables: list[Table] = []
    for (task, model), sub in pools.groupby(["task", "model"], sort=True):
        on_front = _front_lookup(front, str(task), str(model))
        metric = str(sub["metric_name"].iloc[0])
        cells_of = zip(sub["budget_mode"], sub["budget_tokens"], strict=True)
        budgets = sorted({(str(m), int(b)) for m, b in cells_of})
        single = sub[(sub["estimator"] == "maj@k") & (sub["k"] == 1)]
        for name in strategies:
            from overthink.strategies import get_strategy

            # The pool estimator (every k ≤ N) matching the strategy (applied at k = N).
            estimator = get_strategy(name).pool_estimator
            curve = sub[sub["estimator"] == estimator] if estimator else sub.iloc[0:0]
            own = _own_records(front, str(task), str(model), name)
            ks = _ks([1, *curve["k"].astype(int)])
            table = Table(
                title=f"{task} · {model} — {name}: {metric} · mean tokens per question",
                caption="k = 1 is one sample (sequential compute); ★ on the Pareto front",
            )
            table.add_column("budget", justify="right")
            for k in ks:
                table.add_column(f"k={k}" + (" (single)" if k == 1 else ""), justify="center")
            ns = sorted({int(n) for n in own["n"]}) if len(own) else []
            for n in ns:
                table.add_column(f"{name}@{n} records", justify="center")
            for mode, tokens in budgets:
                cells = [_budget(mode, tokens)]
                for k in ks:
                    source = single if k == 1 else curve
                    hit = source[
                        (source["budget_mode"] == mode) & (source["budget_tokens"] == tokens)
                        & (source["k"] == k)
                    ]  # fmt: skip
                    strat = "single" if k == 1 else name
                    cells.append(
                        _pool_cell(hit, "mean_cost", on_front, (mode, tokens, strat, k, "pool"))
                    )
                for n in ns:
                    hit = own[(own["budget_mode"] == mode) & (own["budget_tokens"] == tokens)
                              & (own["n"] == n)]  # fmt: skip
                    cells.append(
                        _pool_cell(hit, "cost_tokens", on_front, (mode, tokens, name, n, "records"))
                    )
                table.add_row(*cells)
            tables.append(table)
    return tables


def _front_lookup(front: pd.DataFrame, task: str, model: str) -> set[tuple[Any, ...]]:
    if front.empty:
        return set()
    f = front[(front["task"] == task) & (front["model"] == model) & front["on_front"]]
    cols = [f[c].tolist() for c in ("budget_mode", "budget_tokens", "strategy", "n", "source")]
    return {
        (str(mode), int(tokens), str(strategy), int(n), str(source))
        for mode, tokens, strategy, n, source in zip(*cols, strict=True)
    }


def _own_records(front: pd.DataFrame, task: str, model: str, name: str) -> pd.DataFrame:
    if front.empty:
        return front
    return front[
        (front["source"] == "records") & (front["task"] == task) & (front["model"] == model)
        & (front["strategy"] == name)
    ]  # fmt: skip


def _pool_cell(
    hit: pd.DataFrame, cost_col: str, on_front: set[tuple[Any, ...]], key: tuple[Any, ...]
) -> str:
    if hit.empty:
        return "–"
    row = hit.iloc[0]
    star = " ★" if key in on_front else ""
    return f"{float(row['metric']):.2f} · {float(row[cost_col]):.0f}{star}"


def print_apply_summary(summary: ApplySummary, console: Console) -> None:
    """One line per verifier and strategy outcome, then the warnings."""
    v = summary.verify
    for name in v.names:
        console.print(
            f"verifier {name}: {v.scored[name]} scored, {v.reused[name]} reused, "
            f"{v.failed[name]} failed",
            highlight=False,
        )
    if v.verifier_tokens:
        console.print(f"verifier tokens spent: {v.verifier_tokens}", highlight=False)
    s = summary.strategies
    if s.strategies:
        console.print(
            f"strategies {', '.join(s.strategies)}: {s.groups} question groups, "
            f"{s.records} strategy records ({summary.written} records written)",
            highlight=False,
        )
    for warning in summary.warnings():
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)


# --- the controlled-vs-natural A/B and the conclusion (run, analyze) ---


def ab_table(result: Analysis) -> Table | None:
    """Natural vs controlled at matched length and at each budget (pooled levels)."""
    ab = result.ab
    if ab.empty:
        return None
    pooled = ab[ab["knob"] == ""]
    table = Table(
        title="Controlled vs natural budgets (paired per question; diff = natural − controlled)"
    )
    for col in ("task", "model", "vs", "at", "natural", "controlled", "diff [95% CI]", "items"):
        table.add_column(col, overflow="fold")
    for _, row in pooled.iterrows():
        matched = row["comparison"] == "matched"
        at = "matched length" if matched else f"budget {fmt_spec(row['budget_tokens'], '.0f')}"
        diff = fmt_interval(row["diff"], row["diff_low"], row["diff_high"], "+.3f")
        natural = (
            f"{fmt_spec(row['natural_metric'], '.3f')} "
            f"({fmt_spec(row['natural_tokens'], '.0f')} tok)"
        )
        ctrl = (
            f"{fmt_spec(row['controlled_metric'], '.3f')} "
            f"({fmt_spec(row['controlled_tokens'], '.0f')})"
        )
        table.add_row(
            escape(str(row["task"])), escape(str(row["model"])), str(row["controlled_mode"]), at,
            natural, ctrl, f"[bold]{diff}[/]" if bool(row["significant"]) else diff,
            str(int(row["n_items"])),
        )  # fmt: skip
    return table


def print_conclusion(console: Console, result: Analysis) -> None:
    """The conclusion block: findings from tests that passed, then the next step."""
    console.print("[bold]Conclusion[/] (only from tests that passed)", highlight=False)
    for line in result.conclusion.findings:
        console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
    console.print(f"  [bold]next step:[/] {escape(result.conclusion.next_step)}",
                  highlight=False, soft_wrap=True)  # fmt: skip
