"""The report's "Mitigations" section, from ``RUN_DIR/mitigate/mitigate.json``.

``overthink mitigate`` writes that file; the report only reads it (so the report does not
depend on the mitigate package) and redraws its forest plot: each mitigation's paired
difference from the baseline in the metric and in generated tokens, with 95 % CIs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from overthink.formatting import fmt_fixed, fmt_interval
from overthink.report.html import Section
from overthink.report.render import render_figure
from overthink.report.tables import Cell, Table

__all__ = ["FIGURE", "mitigation_section"]

FIGURE = "mitigations"
_FILE = Path("mitigate") / "mitigate.json"


def _ci(effect: dict[str, Any], key: str, digits: int) -> Cell:
    mid = effect["diff"].get(key)
    lo, hi = effect["ci"].get(key, [None, None])
    text = fmt_interval(mid, lo, hi, f"+.{digits}f")
    return Cell(text, sort=float(mid) if isinstance(mid, int | float) else float("nan"))


def _figure(data: dict[str, Any]) -> Figure:
    effects = data["effects"]
    fig = Figure(figsize=(9.0, 0.5 * len(effects) + 1.6), layout="constrained")
    ax_m, ax_t = fig.subplots(1, 2, sharey=True)
    ys = list(range(len(effects)))[::-1]
    for ax, key, label in (
        (ax_m, "value", f"Δ {data.get('metric', 'metric')} vs baseline"),
        (ax_t, "tokens", "Δ generated tokens per question"),
    ):
        for y, e in zip(ys, effects, strict=True):
            mid = e["diff"].get(key)
            lo, hi = e["ci"].get(key, [None, None])
            if not all(isinstance(v, int | float) for v in (mid, lo, hi)):
                continue
            ax.errorbar([mid], [y], xerr=[[mid - lo], [hi - mid]], fmt="o", color="#0072B2",
                        ecolor="#56B4E9", capsize=3)  # fmt: skip
        ax.axvline(0.0, color="#999999", lw=1, ls="--")
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    ax_m.set_yticks(ys, [e["name"] for e in effects])
    return fig


def mitigation_section(run_dir: Path, plots_dir: Path) -> Section | None:
    """The section, or None when the run has no (readable) mitigation results."""
    path = run_dir / _FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        effects = data["effects"]
    except (ValueError, KeyError, TypeError, OSError):
        return None
    rows = []
    for e in effects:
        base, mit = e["baseline"], e["mitigated"]
        rows.append([
            Cell(str(e["name"]), sort=str(e["name"])),
            Cell(str(e["n_questions"]), sort=float(e["n_questions"])),
            Cell(f"{fmt_fixed(base.get('value'), 3)} → {fmt_fixed(mit.get('value'), 3)}",
                 sort=float(mit.get("value") or 0.0)),
            _ci(e, "value", 3),
            Cell(f"{fmt_fixed(base.get('tokens'), 0)} → {fmt_fixed(mit.get('tokens'), 0)}",
                 sort=float(mit.get("tokens") or 0.0)),
            _ci(e, "tokens", 0),
            _ci(e, "latency_s", 2),
        ])  # fmt: skip
    table = Table(
        header=[
            ("mitigation", "text"),
            ("n", "num"),
            ("metric", "num"),
            ("Δ metric [95% CI]", "num"),
            ("tokens", "num"),
            ("Δ tokens [95% CI]", "num"),
            ("Δ latency s [95% CI]", "num"),
        ],
        rows=rows,
        caption=f"Baseline {data.get('baseline')}; Δ = mitigated − baseline, paired per "
        "question; intervals resample base items. Tokens are generated tokens per question, "
        "mitigation overhead (probes, extraction, verifiers) included.",
    )
    figures = [
        render_figure(
            _figure(data), plots_dir, FIGURE,
            "Paired differences of each mitigation from the baseline, with 95% CIs.",
        )
    ] if effects else []  # fmt: skip
    return Section(
        "mitigations",
        "Mitigations",
        lead="What each mitigation from `overthink mitigate` bought against the unmitigated "
        "baseline on the same questions.",
        figures=figures,
        empty="No mitigation effects were recorded.",
        table=table,
    )
