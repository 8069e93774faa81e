"""Assemble the report: analysis frames → figures → one HTML page, written atomically."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from matplotlib.figure import Figure

from overthink._version import __version__
from overthink.analysis import analyze, load_run
from overthink.analysis.cost import ModelShape
from overthink.errors import ConfigError
from overthink.experiment.store import STORE_FILE, Store
from overthink.report import plots
from overthink.report.browser_data import BrowserData, browser_data, safe_json
from overthink.report.html import Section, render_page
from overthink.report.render import RenderedFigure, atomic_write_bytes, render_figure
from overthink.report.summary import summarize
from overthink.report.tables import ab_table, cube_slope_table, drift_table, verdict_table

__all__ = ["REPORT_FILE", "AnalysisLike", "build_report", "write_report"]

REPORT_FILE = "report.html"
PLOTS_DIR = "plots"
MAX_BYTES = 19_000_000
"""Size the page is built to stay under (the issue's limit is 20 MB; this leaves margin)."""
FIGURES = ("scaling_curves", "natural_rank", "natural_bins", "budget_adherence", "pareto", "cube")
"""Stems of the files under ``plots/`` (each as .png and .svg)."""


class AnalysisLike(Protocol):
    """What the report reads from ``overthink.analysis.analyze``'s result.

    Any frame may be empty (or, for hand-built objects, absent): its section then says so
    in one line instead of showing an empty plot.
    """

    @property
    def curves(self) -> pd.DataFrame: ...
    @property
    def verdicts(self) -> pd.DataFrame: ...
    @property
    def warnings(self) -> list[str]: ...


def _frame(analysis: AnalysisLike, name: str) -> pd.DataFrame:
    value = getattr(analysis, name, None)
    return value if isinstance(value, pd.DataFrame) else pd.DataFrame()


def _metric_by_task(curves: pd.DataFrame) -> dict[Any, str]:
    if curves.empty or not {"task", "metric_name"} <= set(curves.columns):
        return {}
    return {
        task: str(name) for task, name in zip(curves["task"], curves["metric_name"], strict=True)
    }


def _figure(
    plots_dir: Path, name: str, alt: str, draw: Callable[[], Figure | None]
) -> list[RenderedFigure]:
    fig = draw()
    if fig is None:
        return []
    return [render_figure(fig, plots_dir, name, alt)]


def _sections(records: pd.DataFrame, analysis: AnalysisLike, plots_dir: Path) -> list[Section]:
    curves = _frame(analysis, "curves")
    natural_rank = _frame(analysis, "natural_rank")
    natural_bins = _frame(analysis, "natural_bins")
    cube = _frame(analysis, "cube")
    cube_slopes = _frame(analysis, "cube_slopes")
    drift = _frame(analysis, "drift")
    pareto = _frame(analysis, "pareto")
    natural = _figure(
        plots_dir,
        "natural_rank",
        "Natural budget: metric by length rank among each question's samples, with 95% CIs.",
        lambda: plots.natural_rank(natural_rank),
    ) + _figure(
        plots_dir,
        "natural_bins",
        "Natural budget: metric by reasoning-length quantile bin, with 95% CIs.",
        lambda: plots.natural_bins(natural_bins),
    )
    conclusion = getattr(analysis, "conclusion", None)
    ab = _frame(analysis, "ab")
    matched = ab[(ab["comparison"] == "matched")] if not ab.empty else ab
    return [
        Section(
            "conclusion",
            "Conclusion",
            kind="text",
            lead="In plain words, built only from tests that passed (verdicts after "
            "Benjamini–Hochberg, the knob × length interaction, the natural-vs-controlled "
            "A/B); flat curves are undecided, not evidence of no effect.",
            lines=conclusion.lines() if conclusion is not None else [],
            empty="No conclusion: the analysis has no tests to report.",
        ),
        Section(
            "verdicts",
            "Verdicts",
            kind="verdicts",
            lead="One row per curve: does the metric fall (inverse), rise (positive), stay "
            "flat or peak as reasoning grows? Slopes and turning points carry 95% "
            "bootstrap CIs; p-values are adjusted for the number of curves.",
        ),
        Section(
            "curves",
            "Scaling curves",
            lead="Metric vs observed reasoning tokens, one line per knob level, 95% "
            "bootstrap CI bands; dotted verticals mark the requested budgets.",
            figures=_figure(
                plots_dir,
                "scaling_curves",
                "Scaling curves: metric vs mean observed reasoning tokens (log "
                "scale), one panel per task.",
                lambda: plots.scaling_curves(curves),
            ),
            empty="No curves: the run has no scored records across budgets.",
            table=drift_table(drift) if not drift.empty else None,
        ),
        Section(
            "natural",
            "Natural overthinking",
            lead="With no budget, does the model do worse on the samples where it happens "
            "to think longer?",
            figures=natural,
            empty="No natural-budget records: add the 'natural' budget to the sweep to see this.",
        ),
        Section(
            "adherence",
            "Requested vs observed budget",
            lead="Observed reasoning tokens per requested budget; the vermillion tick is the "
            "cap and the percentage above each box is the share of trials over it.",
            figures=_figure(
                plots_dir,
                "budget_adherence",
                "Requested vs observed reasoning tokens, one box per budget.",
                lambda: plots.budget_adherence(records),
            ),
            empty="No records to compare requested and observed budgets.",
        ),
        Section(
            "pareto",
            "Pareto front",
            lead="Cost vs metric for every budget and parallel-sampling configuration; "
            "faded points are dominated, the labelled line is the front.",
            figures=_figure(
                plots_dir,
                "pareto",
                "Pareto front: cost vs metric, dominated configurations faded.",
                lambda: plots.pareto_front(pareto, _frame(analysis, "cheapest")),
            ),
            empty="No Pareto front: no configuration has a cost on this axis. With --cost "
            "usd or eflops a model's price (--prices) or shape (--shapes) may be missing; "
            "the notes at the top say which.",
        ),
        Section(
            "cube",
            "Length × knob cube",
            lead="Metric in each (knob level × reasoning-length bin) cell, with the trial "
            "count; the table gives each level's length slope and the interaction.",
            figures=_figure(
                plots_dir,
                "cube",
                "Heatmap of the metric by knob level and reasoning-length bin.",
                lambda: plots.cube_heatmap(cube, _metric_by_task(curves)),
            ),
            empty="No cube: the run needs records with a knob and varied reasoning lengths.",
            table=cube_slope_table(cube_slopes) if not cube_slopes.empty else None,
        ),
        *_mitigations(plots_dir),
        Section(
            "ab",
            "Controlled vs natural budgets",
            kind="text",
            lead="The same questions under a controlled budget (forced/native) and the "
            "natural one: if natural reasoning drops more, tighten the guardrails.",
            lines=[str(c) for c in matched["conclusion"]] if not matched.empty else [],
            table=ab_table(ab) if not ab.empty else None,
            empty="No A/B: the run needs the natural budget next to forced or native ones "
            "(e.g. --budgets natural,0,64,256).",
        ),
        Section(
            "samples",
            "Sample browser",
            kind="samples",
            lead="Every record; filter, then open one to see its prompt, reasoning "
            "(collapsed), response and parsed answer. Text is shown exactly as the "
            "model wrote it.",
        ),
    ]


def _mitigations(plots_dir: Path) -> list[Section]:
    # `overthink mitigate` results live next to plots/ in the run folder.
    from overthink.report.mitigation import mitigation_section

    section = mitigation_section(plots_dir.parent, plots_dir)
    return [section] if section is not None else []


def build_report(
    records: pd.DataFrame,
    analysis: AnalysisLike,
    out_dir: str | Path,
    *,
    manifest: Mapping[str, Any] | None = None,
    title: str | None = None,
    max_bytes: int = MAX_BYTES,
    prices: Mapping[str, float] | None = None,
) -> Path:
    """Write ``out_dir/report.html`` and ``out_dir/plots/*`` from a records frame and an analysis.

    The lower-level entry point behind :func:`write_report`, for callers that already hold
    the frames. ``manifest`` is the run manifest (every key optional), ``title`` overrides
    the folder name when the manifest has no name, ``max_bytes`` caps the page's size (long
    texts in the sample browser are shortened to fit) and ``prices`` price the run in the
    header. Files are written to temporaries and renamed, so an interrupted run never leaves
    a half-written report; figures a previous report drew but this one has no data for are
    removed, so ``plots/`` always matches the page.
    """
    out = Path(out_dir)
    plots_dir = out / PLOTS_DIR
    summary = summarize(
        records,
        manifest,
        run_dir_name=title or out.resolve().name,
        tool_version=__version__,
        analysis_warnings=list(getattr(analysis, "warnings", []) or []),
        prices=prices,
    )
    sections = _sections(records, analysis, plots_dir)
    drawn = {fig.name for section in sections for fig in section.figures}
    # The mitigations figure exists only after `overthink mitigate` (report/mitigation.py).
    for stale in {*FIGURES, "mitigations"} - drawn:
        for suffix in (".png", ".svg"):
            (plots_dir / f"{stale}{suffix}").unlink(missing_ok=True)
    verdicts = verdict_table(_frame(analysis, "verdicts"))
    generated = dt.datetime.now(tz=dt.UTC)

    def page(browser: BrowserData) -> str:
        return render_page(
            summary=summary,
            sections=sections,
            verdicts=verdicts,
            browser=browser,
            tool_version=__version__,
            generated=generated,
        )

    # Whatever the figures and tables leave of the size limit goes to the sample browser.
    empty = BrowserData(payload={}, json=safe_json({}), cap=None, shortened=0)
    rest = len(page(empty).encode("utf-8"))
    browser = browser_data(records, max_bytes=max(max_bytes - rest, 1_000_000))
    html = page(browser)
    path = out / REPORT_FILE
    # "replace" turns a lone surrogate from a broken decode into U+FFFD instead of failing.
    atomic_write_bytes(path, html.encode("utf-8", errors="replace"))
    return path


def _check_run_dir(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise ConfigError(f"run folder {run_dir} does not exist")
    if not (run_dir / STORE_FILE).is_file():
        raise ConfigError(f"no {STORE_FILE} in {run_dir}: is it a run folder?")


def write_report(
    run_dir: str | Path,
    *,
    analysis: AnalysisLike | None = None,
    by: str | None = None,
    cost: str = "tokens",
    prices: Mapping[str, float] | None = None,
    shapes: Mapping[str, ModelShape] | None = None,
) -> Path:
    """Write ``RUN_DIR/report.html`` (self-contained) and ``RUN_DIR/plots/*.png|*.svg``.

    Computes the analysis with ``overthink.analysis.analyze(records, by=by, cost=cost,
    prices=prices, shapes=shapes)`` unless one is given; ``prices`` (USD per million tokens
    per model, as ``analyze`` takes them) also price the run in the header. Raises
    :class:`~overthink.errors.ConfigError` naming the path when ``run_dir`` is not a run
    folder. Returns the path of the HTML file.
    """
    folder = Path(run_dir)
    _check_run_dir(folder)
    with Store.of_run(folder) as store:
        manifest = store.get_meta("manifest")
    records = load_run(folder)
    if analysis is None:
        analysis = analyze(records, by=by, cost=cost, prices=prices, shapes=shapes)
    return build_report(records, analysis, folder, manifest=manifest, prices=prices)
