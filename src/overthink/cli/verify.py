"""``overthink verify RUN_DIR``: score a stored run with verifiers, write strategy records.

``verify`` scores a run's stored samples with verifiers and (re)writes its strategy
records — no new generation, so it can be applied to any finished run with N > 1.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from overthink.cli.app import app
from overthink.cli.app import console as make_console
from overthink.cli.tables import print_apply_summary
from overthink.engines import Engine, EngineOptions, make_engine
from overthink.errors import ConfigError
from overthink.experiment.lock import RunLock
from overthink.experiment.store import STORE_FILE, Store
from overthink.strategies import (
    ApplySummary,
    apply_to_store,
    default_strategies,
    make_verifiers,
    parse_strategies,
    parse_verifiers,
    strategy_names,
    verifier_class,
    verifier_names,
)
from overthink.tasks.registry import reload_file_tasks

__all__ = ["verify"]


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
    err = make_console(stderr=True)
    # A task from the user's own file is known only to the process that loaded it: load
    # it again, so the rubric verifier checks what that task declares.
    with Store(run_dir / STORE_FILE, readonly=True) as store:
        sources = (store.get_meta("manifest") or {}).get("task_files") or {}
    for note in reload_file_tasks(sources):
        err.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)

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
    print_apply_summary(summary, console)
    if summary.strategies.groups:
        console.print(
            f"see them with: overthink analyze {run_dir} --strategy {','.join(strategies)}",
            highlight=False,
        )
