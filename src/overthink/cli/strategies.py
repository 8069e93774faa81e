"""``overthink verify RUN_DIR`` and the parallel-vs-sequential tables of run/analyze.

``verify`` scores a run's stored samples with verifiers and (re)writes its strategy
records — no new generation, so it can be applied to any finished run with N > 1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from overthink.analysis import Analysis
from overthink.cli.app import app
from overthink.cli.app import console as make_console
from overthink.core import Record
from overthink.engines import Engine, EngineOptions, make_engine
from overthink.errors import ConfigError
from overthink.experiment.lock import RunLock
from overthink.experiment.store import STORE_FILE, Store
from overthink.strategies import (
    ApplySummary,
    apply_to_store,
    combine,
    default_strategies,
    get_strategy,
    make_verifiers,
    parse_strategies,
    parse_verifiers,
    split_label,
    strategy_names,
    verifier_class,
    verifier_names,
)

__all__ = ["missing_strategy_records", "pool_tables", "print_summary", "verify"]

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
                        _cell(hit, "mean_cost", on_front, (mode, tokens, strat, k, "pool"))
                    )
                for n in ns:
                    hit = own[(own["budget_mode"] == mode) & (own["budget_tokens"] == tokens)
                              & (own["n"] == n)]  # fmt: skip
                    cells.append(
                        _cell(hit, "cost_tokens", on_front, (mode, tokens, name, n, "records"))
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


def _cell(
    hit: pd.DataFrame, cost_col: str, on_front: set[tuple[Any, ...]], key: tuple[Any, ...]
) -> str:
    if hit.empty:
        return "–"
    row = hit.iloc[0]
    star = " ★" if key in on_front else ""
    return f"{float(row['metric']):.2f} · {float(row[cost_col]):.0f}{star}"


def missing_strategy_records(
    records: Sequence[Record], strategies: Sequence[str]
) -> tuple[list[Record], list[str]]:
    """Strategy records computed in memory for strategies the store has none of.

    Lets ``overthink analyze --strategy`` show a strategy on a run that never applied it,
    without writing to the run. Returns the records and notes for the user.
    """
    stored = {
        found[0] for r in records if r.strategy != "single" and (found := split_label(r.strategy))
    }
    todo = [s for s in strategies if s not in stored]
    if not todo:
        return [], []
    out, report = combine(records, todo)
    notes = report.warnings()
    if report.single_sample and not report.groups:
        notes.append("strategies need N > 1 samples per question (overthink run -n 8 ...)")
    return out, notes


def print_summary(summary: ApplySummary, console: Console) -> None:
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


async def _verify(
    run_dir: Path, verifiers: list[str], strategies: list[str], judge: Engine | None,
    concurrency: int, judge_max_tokens: int = 24,
) -> ApplySummary:  # fmt: skip
    try:
        # A run still writing this folder would race our writes: one writer at a time.
        with RunLock(run_dir), Store(run_dir / STORE_FILE) as store:
            return await apply_to_store(
                store,
                verifiers=make_verifiers(
                    verifiers, judge_engine=judge, judge_max_tokens=judge_max_tokens
                ),
                strategies=strategies,
                concurrency=concurrency,
            )
    finally:
        if judge is not None:
            await judge.aclose()


@app.command()
def verify(
    run_dir: Annotated[Path, typer.Argument(help="Run folder (the one holding store.sqlite).")],
    verifier: Annotated[
        str | None,
        typer.Option("--verifier", "-V", help=f"Comma list: {', '.join(verifier_names())}."),
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help=f"Comma list: {', '.join(strategy_names())} (default: all that apply).",
        ),
    ] = None,
    judge_model: Annotated[
        str, typer.Option("--judge-model", help="Model of the judge verifier.")
    ] = "embedded",
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="OpenAI-compatible server of the judge.")
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", help="Judge requests in flight.", min=1)
    ] = 4,
    judge_max_tokens: Annotated[
        int,
        typer.Option(
            "--judge-max-tokens",
            help="Judge's output allowance (raise it for a reasoning judge).",
            min=1,
        ),
    ] = 24,
) -> None:
    """Score a run's samples with verifiers and write its strategy records (no generation)."""
    if not (run_dir / STORE_FILE).is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no {STORE_FILE} inside)")
    verifiers = parse_verifiers(verifier)
    strategies = parse_strategies(strategy) if strategy else default_strategies(bool(verifiers))
    if not verifiers and not strategies:
        raise ConfigError("nothing to do: give --verifier and/or --strategy")

    async def go() -> ApplySummary:
        judge = None
        if any(verifier_class(v).needs_engine for v in verifiers):
            judge = make_engine(
                judge_model, EngineOptions(base_url=base_url, concurrency=concurrency)
            )
            await judge.check()
        return await _verify(run_dir, verifiers, strategies, judge, concurrency, judge_max_tokens)

    summary = asyncio.run(go())
    console = make_console()
    print_summary(summary, console)
    if summary.strategies.groups:
        console.print(
            f"see them with: overthink analyze {run_dir} --strategy {','.join(strategies)}",
            highlight=False,
        )
