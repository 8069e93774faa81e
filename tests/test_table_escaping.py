"""Verdict and drift table cells are escaped: markup planted in a task and a model name.

Task names come from files (``jsonl:<path>``) and model names from the user or a server,
so both reach the HTML report and the terminal tables. In HTML they must be inert text
(``&lt;b&gt;``), and in the terminal rich must print them, not read them as styles.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from rich.console import Console

from overthink.analysis import Analysis, analyze
from overthink.cli.tables import drift_table as cli_drift_table
from overthink.cli.tables import verdict_table as cli_verdict_table
from overthink.report import build_report
from overthink.testing.synthetic import synthetic_frame

TASK = '<b class="x">task</b>[bold]t[/bold]'
MODEL = "<img src=x onerror=alert(1)>[red]m[/red]"


def _drift() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "task": TASK, "model": MODEL, "budget_mode": "forced", "budget_tokens": 64,
                "knob": "", "level": "all", "feature": "sleep_hours", "true_weight": 0.0,
                "pred_weight": 0.3, "weight_drift": 0.3, "pred_corr": 0.2, "true_corr": 0.0,
                "n": 40,
            }
        ]
    )  # fmt: skip


def _analysis() -> tuple[Analysis, pd.DataFrame]:
    # Two tasks and two models, so both are columns (one value would move to the title).
    df = synthetic_frame(
        tasks=(TASK, "plain"), models=(MODEL, "m2"), n_questions=12, n_samples=1, seed=3
    )
    result = analyze(df, n_boot=50)
    result.drift = _drift()
    return result, df


def test_report_tables_escape_task_and_model_names(tmp_path: Path) -> None:
    result, df = _analysis()
    page = build_report(df, result, tmp_path).read_text(encoding="utf-8")
    verdicts = re.search(r'id="verdict-table">(.*?)</table>', page, re.S)
    drift = re.search(r'id="curves-table">(.*?)</table>', page, re.S)
    assert verdicts and drift
    for table in (verdicts.group(1), drift.group(1)):
        assert "&lt;b class=&#34;x&#34;&gt;task&lt;/b&gt;[bold]t[/bold]" in table
        assert "&lt;img src=x onerror=alert(1)&gt;[red]m[/red]" in table
        assert "<b " not in table and "<img" not in table


def _render(table: object) -> str:
    console = Console(width=400, record=True, color_system=None)
    console.print(table)
    return console.export_text()


def test_terminal_tables_print_markup_literally() -> None:
    result, df = _analysis()
    # One task and model: their names move into the table title, escaped there too.
    single = analyze(df[(df["task"] == TASK) & (df["model"] == MODEL)], n_boot=50)
    assert "[bold]t[/bold]" in _render(cli_verdict_table(single))
    verdicts = _render(cli_verdict_table(result))
    drift = _render(cli_drift_table(result))
    for text in (verdicts, drift):
        assert "[bold]t[/bold]" in text
        assert "[red]m[/red]" in text
