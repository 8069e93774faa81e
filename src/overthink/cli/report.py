"""``overthink report RUN_DIR``: write the run's self-contained HTML report and plots."""

from __future__ import annotations

import webbrowser
from typing import Annotated

import typer

from overthink.cli.app import (
    ByOption,
    CostOption,
    PricesOption,
    RunDirArgument,
    ShapesOption,
    SkipBadRowsOption,
    app,
    console,
    warn_skipped,
)

__all__ = ["report"]


@app.command()
def report(
    run_dir: RunDirArgument,
    by: ByOption = None,
    cost: CostOption = "tokens",
    prices: PricesOption = None,
    shapes: ShapesOption = None,
    open_: Annotated[
        bool, typer.Option("--open", help="Open the report in the default browser.")
    ] = False,
    skip_bad_rows: SkipBadRowsOption = False,
) -> None:
    """Write RUN_DIR/report.html (one self-contained page) and RUN_DIR/plots/."""
    # Imported here so `overthink --help` does not pay for matplotlib and pandas.
    from overthink.analysis.cost import load_prices, load_shapes
    from overthink.experiment.store import skipping_bad_rows
    from overthink.report import write_report

    price_table = load_prices(prices) if prices is not None else None
    shape_table = load_shapes(shapes) if shapes is not None else None
    with skipping_bad_rows(skip_bad_rows) as skipped:
        path = write_report(run_dir, by=by, cost=cost, prices=price_table, shapes=shape_table)
    warn_skipped(skipped)
    console().print(f"report: {path}", highlight=False)
    if open_:
        webbrowser.open(path.resolve().as_uri())
