"""``overthink analyze RUN_DIR``: verdict table on screen, every table as CSV (and JSON)."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
import yaml
from rich.markup import escape
from rich.table import Table

from overthink.analysis import Analysis
from overthink.analysis import analyze as run_analysis
from overthink.analysis.cost import COST_AXES, DEFAULT_INTENSITY, ModelShape
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
from overthink.cli.conclusion import ab_table, print_conclusion
from overthink.cli.strategies import missing_strategy_records, pool_tables
from overthink.errors import ConfigError
from overthink.experiment.store import STORE_FILE, Store, skipping_bad_rows
from overthink.strategies import parse_strategies, strategy_names

__all__ = ["ANALYSIS_DIR", "analyze", "load_prices", "load_shapes", "verdict_table"]

ANALYSIS_DIR = "analysis"
"""Sub-folder of the run folder the tables are written to."""

_VERDICT_STYLE = {
    "inverse": "bold red",
    "peaked": "bold yellow",
    "positive": "green",
    "flat": "dim",
    "insufficient": "dim italic",
    "rises": "blue",
    "falls": "blue",
}


def _read_yaml(path: Path, what: str) -> Any:
    """The parsed YAML/JSON of a ``what`` file (``prices``, ``shapes``), or a ConfigError."""
    if path.is_dir():
        raise ConfigError(f"{what} file {str(path)!r} is a folder (expected a YAML/JSON file)")
    if not path.is_file():
        raise ConfigError(f"{what} file {str(path)!r} does not exist")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what} file {str(path)!r} is not UTF-8 text (offset {exc.start})"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{what} file {str(path)!r} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        # PyYAML's message spans several lines (problem, context, a quoted snippet).
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"{what} file {str(path)!r}{line}: not valid YAML/JSON ({problem})"
        ) from None


def load_prices(path: Path) -> dict[str, float]:
    """Read a ``model: usd_per_million_tokens`` mapping from a YAML or JSON file."""
    data = _read_yaml(path, "prices")
    if not isinstance(data, dict):
        raise ConfigError(
            f"prices file {str(path)!r} must map model names (or 'model:input'/'model:output') "
            "to USD per million tokens"
        )
    out: dict[str, float] = {}
    for key, value in data.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"prices file {str(path)!r}: price of {key!r} is {value!r}, not a number"
            ) from None
    return out


_SHAPE_FIELDS = ("params", "layers", "heads", "kv_heads", "head_dim")


def load_shapes(path: Path) -> dict[str, ModelShape]:
    """Read ``model: {params, layers, heads, kv_heads, head_dim[, kv_bytes]}`` (YAML/JSON)
    for the eFLOPs cost axis."""
    data = _read_yaml(path, "shapes")
    if not isinstance(data, dict) or not data:
        raise ConfigError(
            f"shapes file {str(path)!r} must map model names to "
            f"{{{', '.join(_SHAPE_FIELDS)}[, kv_bytes]}}"
        )
    out: dict[str, ModelShape] = {}
    for model, fields in data.items():
        where = f"shapes file {str(path)!r}, model {model!r}"
        if not isinstance(fields, dict):
            raise ConfigError(f"{where}: expected a mapping of {', '.join(_SHAPE_FIELDS)}")
        unknown = set(fields) - {*_SHAPE_FIELDS, "kv_bytes"}
        missing = [f for f in _SHAPE_FIELDS if f not in fields]
        if unknown or missing:
            problem = (
                f"unknown field(s) {', '.join(sorted(map(str, unknown)))}"
                if unknown
                else f"missing field(s) {', '.join(missing)}"
            )
            raise ConfigError(f"{where}: {problem} (expected {', '.join(_SHAPE_FIELDS)}"
                              "[, kv_bytes])")  # fmt: skip
        values: dict[str, float] = {}
        for name, value in fields.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = float("nan")
            if not math.isfinite(number) or number <= 0:
                raise ConfigError(f"{where}: {name} is {value!r}, expected a positive number")
            values[str(name)] = number
        out[str(model)] = ModelShape(
            params=values["params"], layers=int(values["layers"]), heads=int(values["heads"]),
            kv_heads=int(values["kv_heads"]), head_dim=int(values["head_dim"]),
            kv_bytes=values.get("kv_bytes", 2.0),
        )  # fmt: skip
    return out


def _num(value: Any, fmt: str = ".3g") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(float(value), fmt)


def _interval(point: Any, low: Any, high: Any, fmt: str = ".3g") -> str:
    if _num(low) == "–":
        return _num(point, fmt)
    return f"{_num(point, fmt)} [{_num(low, fmt)}, {_num(high, fmt)}]"


def _turning(row: pd.Series) -> str:
    fmt = ".0f"
    prefix = "rank " if row["basis"] == "natural_rank" else ""
    if _num(row["turning_point"]) == "–":
        return "–"
    if row["tp_low"] == row["tp_high"] or _num(row["tp_low"]) == "–":
        return prefix + _num(row["turning_point"], fmt)
    return (
        f"{prefix}{_num(row['turning_point'], fmt)} "
        f"[{_num(row['tp_low'], fmt)}, {_num(row['tp_high'], fmt)}]"
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
            "ρ": _num(row["rho"], "+.2f"), "p adj": _num(row["p_adjusted"], ".2g"),
            "turning point [CI]": _turning(row),
            "best → worst": f"{_num(row['best_metric'])} → {_num(row['worst_metric'])}",
        }  # fmt: skip
        table.add_row(*(cells[c] for c in columns))
    from overthink.report.tables import polarity_notes

    notes = polarity_notes(shown)
    if notes:
        table.caption = "\n".join([*([str(table.caption)] if table.caption else []), *notes])
    return table


def _cheapest_table(result: Analysis) -> Table:
    table = Table(title=f"Cheapest configuration per task (cost: {result.params.get('cost')})")
    for col in ("task", "configuration", "metric [95% CI]", "cost", "criterion"):
        table.add_column(col, overflow="fold")
    for _, row in result.cheapest.iterrows():
        table.add_row(
            str(row["task"]), str(row["label"]),
            _interval(row["metric"], row["ci_low"], row["ci_high"]), _num(row["cost"], ".4g"),
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
            f"{short}\n(true {_num(truth[feat], '+.2f')})", justify="right", overflow="fold"
        )
    table.add_column("n", justify="right")
    keys = ["task", "model", "budget_mode", "budget_tokens"]
    for key, rows in pooled.groupby(keys, sort=False):
        weights = rows.set_index("feature")["pred_weight"]
        table.add_row(
            escape(str(key[0])), escape(str(key[1])), f"{key[2]}:{key[3]}",
            *(_num(weights.get(f), "+.2f") for f in features), str(int(rows["n"].iloc[0])),
        )  # fmt: skip
    return table


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
    console = make_console()
    if result.verdicts.empty:
        console.print("[yellow]no scored records to analyse[/]")
    else:
        console.print(verdict_table(result))
    if not result.cheapest.empty:
        console.print(_cheapest_table(result))
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
