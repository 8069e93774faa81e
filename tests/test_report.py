"""The HTML report: content, escaping, self-containment, plots, atomic writes, errors.

Most tests build one report from a synthetic run and a hand-made analysis (frames with the
analysis contract's columns), so they do not depend on the analysis numbers.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from overthink.analysis.frame import records_frame
from overthink.errors import ConfigError
from overthink.report import build_report, write_report
from overthink.report import plots as P
from overthink.report._synthetic import PAYLOAD, synthetic_records, write_synthetic_run
from overthink.report.browser_data import (
    COLUMNS,
    STATUS,
    browser_data,
    choose_cap,
    safe_json,
    shorten,
)
from overthink.report.html import script_hash
from overthink.report.style import OKABE_ITO, level_label
from overthink.report.summary import summarize
from overthink.report.tables import verdict_table

FIGURES = ("scaling_curves", "natural_rank", "natural_bins", "budget_adherence", "pareto", "cube")


@dataclass
class HandMade:
    """An analysis result built by hand, with exactly the contract's columns."""

    curves: pd.DataFrame = field(default_factory=pd.DataFrame)
    verdicts: pd.DataFrame = field(default_factory=pd.DataFrame)
    natural_rank: pd.DataFrame = field(default_factory=pd.DataFrame)
    natural_bins: pd.DataFrame = field(default_factory=pd.DataFrame)
    cube: pd.DataFrame = field(default_factory=pd.DataFrame)
    cube_slopes: pd.DataFrame = field(default_factory=pd.DataFrame)
    pools: pd.DataFrame = field(default_factory=pd.DataFrame)
    pareto: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)


def hand_made() -> HandMade:
    """Two tasks, two knob levels, four budgets; accuracy falls with length at level 4."""
    budgets = [(64, 60.0), (128, 118.0), (256, 230.0), (512, 470.0)]
    curves, verdicts, rank, bins, cube, pareto = [], [], [], [], [], []
    for task in ("misleading_math", "zebra_puzzles"):
        for level in (0, 4):
            acc = [0.8 - (0.1 * i if level else 0.01 * i) for i in range(len(budgets))]
            for (req, obs), a in zip(budgets, acc, strict=True):
                curves.append(
                    {"task": task, "model": "m", "budget_mode": "forced", "knob": "distractors",
                     "level": level, "budget_tokens": req, "x_tokens": obs,
                     "metric_name": "accuracy", "higher_is_better": True, "metric": a,
                     "ci_low": a - 0.1, "ci_high": a + 0.1, "n": 40, "n_questions": 40,
                     "parse_failures": 1, "truncated": 2, "errors": 0}
                )  # fmt: skip
            verdicts.append(
                {"task": task, "model": "m", "budget_mode": "forced", "knob": "distractors",
                 "level": level, "metric_name": "accuracy",
                 "verdict": "inverse" if level else "flat", "slope": -0.1 if level else -0.01,
                 "slope_low": -0.15, "slope_high": -0.05 if level else 0.02, "rho": -0.9,
                 "p_value": 0.001, "p_adjusted": 0.004, "turning_point": np.nan,
                 "tp_low": np.nan, "tp_high": np.nan, "best_metric": max(acc),
                 "worst_metric": min(acc)}
            )  # fmt: skip
            for r in (1, 2, 3, 4):
                rank.append(
                    {"task": task, "model": "m", "knob": "distractors", "level": level,
                     "rank": r, "mean_tokens": 100.0 * r, "metric": 0.8 - 0.05 * r,
                     "ci_low": 0.6, "ci_high": 0.9, "n": 30}
                )  # fmt: skip
                lo, hi = 50.0 * r, 50.0 * (r + 1)
                cell = {"task": task, "model": "m", "knob": "distractors", "level": level,
                        "bin_low": lo, "bin_high": hi, "metric": 0.8 - 0.05 * r,
                        "ci_low": 0.6, "ci_high": 0.9, "n": 30}  # fmt: skip
                bins.append({**cell, "bin": r - 1, "mean_tokens": (lo + hi) / 2})
                cube.append({**cell, "length_bin": r - 1})
        for i, (req, obs) in enumerate(budgets):
            pareto.append(
                {"label": f"forced:{req}", "task": task, "model": "m", "budget_mode": "forced",
                 "budget_tokens": req, "n": 1, "strategy": "single", "cost_axis": "tokens",
                 "cost": obs + 80, "metric": 0.8 - 0.02 * i, "on_front": i == 0,
                 "dominated": i != 0}
            )  # fmt: skip
    slopes = pd.DataFrame(
        [{"task": t, "model": "m", "knob": "distractors", "level": lv, "slope": -0.02,
          "slope_low": -0.04, "slope_high": 0.0, "interaction_slope": -0.01,
          "interaction_p": 0.04} for t in ("misleading_math", "zebra_puzzles") for lv in (0, 4)]
    )  # fmt: skip
    return HandMade(
        curves=pd.DataFrame(curves),
        verdicts=pd.DataFrame(verdicts),
        natural_rank=pd.DataFrame(rank),
        natural_bins=pd.DataFrame(bins),
        cube=pd.DataFrame(cube),
        cube_slopes=slopes,
        pareto=pd.DataFrame(pareto),
        warnings=["<b>analysis</b> warning: 1 curve has fewer than 3 budgets"],
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_run(tmp_path_factory.mktemp("run") / "demo", 240)


@pytest.fixture(scope="module")
def records(run: Path) -> pd.DataFrame:
    from overthink.analysis.frame import load_run

    return load_run(run)


@pytest.fixture(scope="module")
def report(run: Path, records: pd.DataFrame) -> Path:
    from overthink.experiment.store import Store

    with Store.of_run(run) as store:
        manifest = store.get_meta("manifest")
    return build_report(records, hand_made(), run, manifest=manifest)


@pytest.fixture(scope="module")
def html(report: Path) -> str:
    return report.read_text(encoding="utf-8")


def embedded_data(html: str) -> dict[str, object]:
    match = re.search(r'<script type="application/json" id="ot-data">(.*?)</script>', html, re.S)
    assert match, "the sample data block is missing"
    data: dict[str, object] = json.loads(match.group(1))
    return data


# ---- escaping -------------------------------------------------------------------------


def test_safe_json_cannot_close_its_script_tag_and_round_trips() -> None:
    value = {"t": PAYLOAD + "\u2028 </SCRIPT > <!-- x -->", "n": [1, None, 2.5]}
    text = safe_json(value)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == value


def test_planted_markup_never_reaches_the_page_as_markup(html: str) -> None:
    # The payload sits in the run name, prompt, reasoning, response, answer and meta.
    assert "<script>window.__pwned" not in html
    tags = re.findall(r"<img\b[^>]*>", html)
    assert tags and all(t.startswith('<img src="data:image/') and "onerror" not in t for t in tags)
    assert html.count("<script") == 2  # the JSON block and our one script, nothing else
    assert "&lt;/script&gt;&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html  # title
    assert "&lt;b&gt;analysis&lt;/b&gt; warning" in html
    data = embedded_data(html)
    rows = data["rows"]
    assert isinstance(rows, list)
    response = rows[0][COLUMNS.index("response")]
    assert response == PAYLOAD, "the text itself must survive, shown verbatim"


def test_page_script_uses_text_content_only() -> None:
    from importlib import resources

    script = (resources.files("overthink.report") / "templates" / "report.js").read_text()
    assert "innerHTML" not in script.replace("never innerHTML", "")
    assert "insertAdjacentHTML" not in script and "document.write" not in script
    assert "eval(" not in script


def test_csp_allows_exactly_the_inline_script(html: str) -> None:
    scripts = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(scripts) == 1
    assert f"script-src '{script_hash(scripts[0])}'" in html
    assert "default-src 'none'" in html


# ---- self-contained -------------------------------------------------------------------


def test_report_is_self_contained(html: str) -> None:
    sources = re.findall(r'\ssrc="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/") for s in sources)
    hrefs = re.findall(r'\shref="([^"]*)"', html)
    assert all(h.startswith(("#", "plots/", "data:")) for h in hrefs), hrefs
    assert not re.search(r"https?://", html.replace("http://www.w3.org", ""))
    assert '<link rel="stylesheet"' not in html


def test_every_figure_is_written_as_png_and_svg_and_inlined(report: Path, html: str) -> None:
    for name in FIGURES:
        png, svg = report.parent / "plots" / f"{name}.png", report.parent / "plots" / f"{name}.svg"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert b"<svg" in svg.read_bytes()[:2000], name
        assert f'href="plots/{name}.png"' in html
    assert html.count("<img ") == len(FIGURES)


def test_no_temporary_files_are_left_behind(report: Path) -> None:
    leftovers = [p.name for p in report.parent.rglob("*.tmp")]
    assert leftovers == []


# ---- contents -------------------------------------------------------------------------


def test_sections_appear_in_the_issue_order(html: str) -> None:
    titles = ["Verdicts", "Scaling curves", "Natural overthinking", "Requested vs observed",
              "Pareto front", "Length × knob cube", "Sample browser"]  # fmt: skip
    positions = [html.index(f"</span>{t}") for t in titles]
    assert positions == sorted(positions)


def test_header_counts_warnings_from_the_records(records: pd.DataFrame) -> None:
    summary = summarize(records, {"name": "x", "wall_s": 3725}, run_dir_name="r", tool_version="9")
    facts = {f.label: f.value for f in summary.facts}
    assert facts["Wall time"] == "1 h 02 min"
    assert facts["Budgets"].startswith("none, forced:64, forced:128")
    assert f"{len(records):,} records" in facts["Samples"]
    total = int(records[["prompt_tokens", "reasoning_tokens", "answer_tokens"]].sum().sum())
    assert facts["Tokens"].startswith(f"{total:,} total")
    counts = {w.text.split(":")[0]: w.count for w in summary.warnings}
    assert counts["budget violations"] == int(records["budget_violation"].sum())
    assert counts["reasoning ate the output"] == int(records["truncated_in_reasoning"].sum())
    assert counts["errors"] == int(records["error"].notna().sum())
    assert counts["parse failures"] == int(
        (records["answer"].isna() & records["error"].isna()).sum()
    )


def test_verdict_table_rows_sort_keys_and_colours() -> None:
    table = verdict_table(hand_made().verdicts)
    labels = [h[0] for h in table.header]
    assert "model" not in labels  # one model: no column for it
    verdict = labels.index("verdict")
    cells = [row[verdict] for row in table.rows]
    assert {c.text for c in cells} == {"inverse", "flat"}
    inverse = next(c for c in cells if c.text == "inverse")
    flat = next(c for c in cells if c.text == "flat")
    assert inverse.colour and flat.colour and inverse.colour != flat.colour
    assert float(inverse.sort) < float(flat.sort)  # inverse sorts first
    slope = table.rows[0][labels.index("slope [95% CI]")].text
    assert "[" in slope and "]" in slope


def test_verdict_table_renders_sortable_and_escaped(html: str) -> None:
    assert '<table class="sortable" id="verdict-table">' in html
    assert html.count('class="verdict" style="background:') == 4


def test_empty_analysis_sections_say_so_in_one_line(tmp_path: Path) -> None:
    recs = records_frame(synthetic_records(30, payload_at=None))
    path = build_report(recs, HandMade(), tmp_path)
    page = path.read_text()
    assert "No curves to judge" in page
    assert "No natural-budget records" in page
    assert "No Pareto front" in page
    assert page.count("<img ") == 1  # only requested-vs-observed, drawn from the records
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "budget_adherence.png", "budget_adherence.svg"
    ]  # fmt: skip


def test_a_run_without_records_still_renders(tmp_path: Path) -> None:
    path = build_report(records_frame([]), HandMade(), tmp_path)
    page = path.read_text()
    assert "the run has no records yet" in page
    assert page.count("<img ") == 0


# ---- sample browser data --------------------------------------------------------------


def test_browser_rows_carry_every_field_the_browser_shows(html: str, records: pd.DataFrame) -> None:
    data = embedded_data(html)
    rows, tables = data["rows"], data["tables"]
    assert isinstance(rows, list) and isinstance(tables, dict)
    assert len(rows) == len(records)
    assert data["columns"] == list(COLUMNS)
    row = rows[5]
    rec = records.iloc[5]
    get = dict(zip(COLUMNS, row, strict=True))
    assert tables["task"][get["task"]] == rec["task"]
    assert get["sample_id"] == rec["sample_id"]
    assert tables["prompt"][get["prompt"]] == rec["prompt"]
    assert get["reasoning"] == rec["reasoning"]
    assert get["reasoning_tokens"] == rec["reasoning_tokens"]
    assert "distractors=" in tables["meta"][get["meta"]]
    statuses = {STATUS[r[COLUMNS.index("status")]] for r in rows}
    assert {"correct", "wrong", "unparsed", "error"} <= statuses


def test_prompts_are_stored_once_per_question(records: pd.DataFrame) -> None:
    data = browser_data(records).payload
    assert len(data["tables"]["prompt"]) == records["prompt"].nunique() < len(records)


def test_choose_cap_fits_the_budget_and_keeps_short_texts_whole() -> None:
    lengths = np.array([10, 20, 5000, 8000, 30])
    cap = choose_cap(lengths, 2000)
    assert cap is not None
    assert int(np.minimum(lengths, cap).sum()) <= 2000
    assert int(np.minimum(lengths, cap + 1).sum()) > 2000  # the largest such cap
    assert choose_cap(lengths, 10**6) is None


def test_shorten_keeps_head_and_tail_and_says_what_was_left_out() -> None:
    text = "HEAD" + "x" * 10_000 + "TAIL"
    short = shorten(text, 400)
    assert short.startswith("HEAD") and short.endswith("TAIL")
    assert "characters left out" in short and "10,008" in short
    assert shorten("short", 400) == "short"


def test_browser_data_respects_its_text_budget(records: pd.DataFrame) -> None:
    small = browser_data(records, text_budget=20_000)
    assert small.cap is not None and small.shortened > 0
    full = browser_data(records)
    assert full.cap is None
    assert len(safe_json(small.payload)) < len(safe_json(full.payload))


# ---- plots ----------------------------------------------------------------------------


def test_plots_have_labelled_axes_legends_and_the_okabe_ito_palette() -> None:
    from matplotlib.colors import to_hex

    analysis = hand_made()
    fig = P.scaling_curves(analysis.curves)
    assert fig is not None
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    assert len(axes) == 2  # one panel per task
    for ax in axes:
        assert "tokens" in ax.get_xlabel() and "log" in ax.get_xlabel()
        assert "accuracy" in ax.get_ylabel()
        assert ax.get_xscale() == "log"
        legend = ax.get_legend()
        assert legend is not None
        assert {t.get_text() for t in legend.get_texts()} >= {"distractors=0", "distractors=4"}
        # Data lines carry markers; the dotted budget verticals are grey on purpose.
        data_lines = [line for line in ax.get_lines() if line.get_marker() not in ("None", "")]
        colours = {to_hex(line.get_color()).upper() for line in data_lines}
        assert colours and colours <= {c.upper() for c in OKABE_ITO}


def test_plot_functions_return_none_without_data() -> None:
    empty = pd.DataFrame()
    for draw in (P.scaling_curves, P.natural_rank, P.natural_bins, P.pareto_front, P.cube_heatmap):
        assert draw(empty) is None
    assert P.budget_adherence(empty) is None


def test_budget_adherence_marks_requested_caps(records: pd.DataFrame) -> None:
    fig = P.budget_adherence(records)
    assert fig is not None
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["none", "forced:64", "forced:128", "forced:256", "forced:512", "natural"]
    notes = [t.get_text() for t in ax.texts]
    assert len(notes) == 4 and all(n.endswith("% over") for n in notes)


def test_level_label() -> None:
    assert level_label("distractors", 4.0) == "distractors=4"
    assert level_label(None, None) == "all"
    assert level_label(float("nan"), "") == "all"


# ---- errors and atomic writes ---------------------------------------------------------


def test_write_report_names_the_path_of_a_missing_run_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError, match=re.escape(str(missing))):
        write_report(missing)


def test_write_report_rejects_a_folder_without_a_store(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path))):
        write_report(tmp_path)
    assert not (tmp_path / "report.html").exists()


def test_a_failed_write_leaves_the_previous_report_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recs = records_frame(synthetic_records(12, payload_at=None))
    path = build_report(recs, HandMade(), tmp_path)
    before = path.read_bytes()

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("renderer died")

    monkeypatch.setattr("overthink.report.build.render_page", broken)
    with pytest.raises(RuntimeError):
        build_report(recs, HandMade(), tmp_path)
    assert path.read_bytes() == before
    assert [p for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []
