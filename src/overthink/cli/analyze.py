"""``overthink analyze RUN_DIR``: verdict table on screen, every table as CSV (and JSON)."""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from overthink.analysis import Analysis
from overthink.analysis import analyze as run_analysis
from overthink.analysis.cost import COST_AXES, DEFAULT_INTENSITY, load_prices, load_shapes
from overthink.analysis.frame import records_frame
from overthink.analysis.verdict import DEFAULT_ALPHA
from overthink.cli.app import (
    ByOption,
    CostOption,
    PricesOption,
    RunDirArgument,
    ShapesOption,
    SkipBadRowsOption,
    app,
    warn_skipped,
)
from overthink.cli.app import console as make_console
from overthink.cli.tables import (
    ab_table,
    cheapest_table,
    drift_table,
    pool_tables,
    print_conclusion,
    verdict_table,
)
from overthink.core import Record
from overthink.errors import ConfigError
from overthink.experiment.store import STORE_FILE, Store, skipping_bad_rows
from overthink.strategies import combine, parse_strategies, split_label, strategy_names

__all__ = ["ANALYSIS_DIR", "analyze"]

ANALYSIS_DIR = "analysis"
"""Sub-folder of the run folder the tables are written to."""


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


def _with_strategy_records(
    run_dir: Path, strategies: list[str]
) -> tuple[Path | pd.DataFrame, list[str]]:
    """The run, plus in-memory strategy records for requested strategies it lacks."""
    if not strategies:
        return run_dir, []
    with Store.of_run(run_dir) as store:
        records = list(store.records())
    extra, notes = missing_strategy_records(records, strategies)
    return (records_frame([*records, *extra]) if extra else run_dir), notes


@app.command()
def analyze(
    run_dir: RunDirArgument,
    by: ByOption = None,
    cost: CostOption = "tokens",
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the analysis as JSON on stdout (nothing else there; notes go to "
            "stderr) and write analysis/analysis.json.",
        ),
    ] = False,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap resamples.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the resampling.")] = 0,
    target: Annotated[
        float | None,
        typer.Option("--target", help="Metric the cheapest configuration must reach."),
    ] = None,
    prices: PricesOption = None,
    shapes: ShapesOption = None,
    intensity: Annotated[
        float,
        typer.Option("--intensity", help="eFLOPs: hardware FLOPs per byte (Kinetics: B200)."),
    ] = DEFAULT_INTENSITY,
    alpha: Annotated[
        float, typer.Option("--alpha", help="Significance level of the verdicts.")
    ] = DEFAULT_ALPHA,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help=f"Show pool curves of these strategies ({', '.join(strategy_names())}) "
            "next to the single-sample ones; computed in memory if the run has no records.",
        ),
    ] = None,
    skip_bad_rows: SkipBadRowsOption = False,
) -> None:
    """Scaling curves, inverse-scaling verdicts, pools and Pareto fronts of a run.

    Prints the verdict table and writes every table to RUN_DIR/analysis/*.csv.
    """
    if not run_dir.is_dir():
        raise ConfigError(
            f"run folder {str(run_dir)!r} does not exist (expected a folder with {STORE_FILE})"
        )
    if not (run_dir / STORE_FILE).is_file():
        raise ConfigError(f"run folder {str(run_dir)!r} has no {STORE_FILE} (is it a run folder?)")
    if cost not in COST_AXES:
        raise ConfigError(f"unknown --cost {cost!r} (accepted: {', '.join(COST_AXES)})")
    if not (math.isfinite(intensity) and intensity > 0):
        raise ConfigError(f"--intensity {intensity!r}: expected a positive number of FLOPs/byte")
    price_table = load_prices(prices) if prices is not None else None
    shape_table = load_shapes(shapes) if shapes is not None else None
    strategies = parse_strategies(strategy)
    with skipping_bad_rows(skip_bad_rows) as skipped:
        source, notes = _with_strategy_records(run_dir, strategies)
        result = run_analysis(
            source, by=by, cost=cost, n_boot=n_boot, seed=seed, prices=price_table,
            target_metric=target, alpha=alpha, shapes=shape_table, intensity=intensity,
        )  # fmt: skip
    warn_skipped(sorted(set(skipped)))
    out_dir = run_dir / ANALYSIS_DIR
    result.write_csv(out_dir)
    if json_out:
        # stdout carries the JSON document only, so `analyze RUN --json | jq .` works;
        # warnings and the "written to" line go to stderr.
        payload = result.to_json()
        (out_dir / "analysis.json").write_text(payload)
        err = make_console(stderr=True)
        for warning in [*notes, *result.warnings]:
            err.print(f"[yellow]warning:[/] {warning}", highlight=False)
        err.print(f"CSV and JSON written to {out_dir}", highlight=False)
        sys.stdout.write(payload + "\n")
        sys.stdout.flush()
        return
    _print_result(result, strategies, notes, out_dir)


def _print_result(result: Analysis, strategies: list[str], notes: list[str], out_dir: Path) -> None:
    """Every table that has rows, the warnings, where the CSVs went, the conclusion."""
    console = make_console()
    if result.verdicts.empty:
        console.print("[yellow]no scored records to analyse[/]")
    else:
        console.print(verdict_table(result))
    if not result.cheapest.empty:
        console.print(cheapest_table(result))
    drift = drift_table(result)
    if drift is not None:
        console.print(drift)
    for table in pool_tables(result, strategies):
        console.print(table)
    ab = ab_table(result)
    if ab is not None:
        console.print(ab)
    for warning in [*notes, *result.warnings]:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    console.print(f"CSV written to {out_dir}", highlight=False)
    print_conclusion(console, result)
