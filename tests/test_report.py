"""The HTML report: content, escaping, self-containment, plots, atomic writes, errors.

Most tests build one report from a synthetic run and a hand-made analysis (frames with the
analysis contract's columns), so they do not depend on the analysis numbers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from overthink.analysis.frame import records_frame
from overthink.cli import app
from overthink.errors import ConfigError
from overthink.formatting import fmt_num, fmt_p
from overthink.report import build_report, write_report
from overthink.report import plots as P
from overthink.report.browser_data import (
    FIELDS,
    FLAG_WHOLE,
    STATUS,
    browser_data,
    choose_cap,
    safe_json,
    shorten,
)
from overthink.report.build import FIGURES
from overthink.report.html import script_hash
from overthink.report.style import OKABE_ITO, level_label
from overthink.report.summary import summarize
from overthink.report.tables import verdict_table
from overthink.testing.browser import INSTALL_HINT, Page, chromium_path, headless_chromium
from overthink.testing.report_runs import (
    PAYLOAD,
    SyntheticAnalysis,
    synthetic_analysis,
    synthetic_records,
    synthetic_rows,
    write_synthetic_run,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_run(tmp_path_factory.mktemp("run") / "demo", 240)


@pytest.fixture(scope="module")
def records(run: Path) -> pd.DataFrame:
    from overthink.analysis.frame import load_run

    return load_run(run)


@pytest.fixture(scope="module")
def report(run: Path) -> Path:
    """The report as a user makes it: `overthink report RUN_DIR`, real analysis included."""
    result = CliRunner().invoke(app, ["report", str(run)])
    assert result.exit_code == 0, result.output
    path = run / "report.html"
    assert str(path) in result.output.replace("\n", "")
    return path


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
    columns = embedded_data(html)["columns"]
    assert isinstance(columns, dict)
    assert columns["response"][0] == PAYLOAD, "the text itself must survive, shown verbatim"
    assert columns["answer"][0] == PAYLOAD


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
    ok = records["error"].isna()
    assert counts["reasoning ate the output"] == int((records["empty_answer"] & ok).sum())
    assert counts["cut at the cap inside the thinking, answer forced afterwards"] == int(
        (records["truncated_in_reasoning"] & ~records["empty_answer"] & ok).sum()
    )
    assert counts["errors"] == int(records["error"].notna().sum())
    assert counts["parse failures"] == int(
        (records["answer"].isna() & records["error"].isna()).sum()
    )


def test_a_cut_only_eats_the_output_when_one_limit_covers_both() -> None:
    base = {"task": "t", "sample_id": "s", "model": "m", "budget_mode": "forced",
            "budget_tokens": 64, "error": None, "empty_answer": False}  # fmt: skip
    frame = records_frame(
        [
            # Forced: own cap, answer forced in its own request -> the budget working.
            {**base, "resolved": {"reasoning_cap": 64}, "truncated_in_reasoning": True,
             "answer": None},
            # Forced, but the forced answer came back empty -> eaten.
            {**base, "resolved": {"reasoning_cap": 64}, "truncated_in_reasoning": True,
             "empty_answer": True, "answer": None},
            # One max_tokens for both (native/prompt), cut inside thinking, no answer -> eaten.
            {**base, "budget_mode": "prompt", "resolved": {"max_tokens": 64},
             "truncated_in_reasoning": True, "answer": None},
            # Same, but an answer was parsed anyway -> not eaten, just cut.
            {**base, "budget_mode": "prompt", "resolved": {"max_tokens": 64},
             "truncated_in_reasoning": True, "answer": "2"},
        ]
    )  # fmt: skip
    summary = summarize(frame, {}, run_dir_name="r", tool_version="9")
    counts = {w.text.split(":")[0].split(" (")[0]: (w.count, w.severity) for w in summary.warnings}
    assert counts["reasoning ate the output"] == (2, "warn")
    assert counts["cut at the cap inside the thinking, answer forced afterwards"] == (2, "info")


def test_header_prices_the_run_when_prices_are_known(records: pd.DataFrame) -> None:
    def cost(prices: dict[str, float] | None, frame: pd.DataFrame = records) -> str:
        summary = summarize(frame, {}, run_dir_name="r", tool_version="9", prices=prices)
        return next(f.value for f in summary.facts if f.label == "Cost")

    assert cost(None).startswith("not priced: no price known for smollm2-135m")
    tokens = int(records[["prompt_tokens", "reasoning_tokens", "answer_tokens"]].sum().sum())
    assert (
        cost({"smollm2-135m": 2.0})
        == f"US${tokens * 2.0 / 1e6:,.4f} at list prices per million tokens"
    )
    mixed = records.assign(model=["o3-mini"] * 10 + list(records["model"][10:]))
    assert "no price known for smollm2-135m" in cost(None, mixed)  # o3-mini has a list price
    facts = summarize(records, {"cost_usd": 1.5}, run_dir_name="r", tool_version="9").facts
    assert ("Cost", "US$1.5000") in [(f.label, f.value) for f in facts]  # the manifest's own


def test_verdict_table_rows_sort_keys_and_colours() -> None:
    table = verdict_table(synthetic_analysis().verdicts)
    labels = [h[0] for h in table.header]
    assert "model" not in labels  # one model: no column for it
    verdict = labels.index("verdict")
    cells = [row[verdict] for row in table.rows]
    assert {c.text for c in cells} == {"inverse", "flat"}
    inverse = next(c for c in cells if c.text == "inverse")
    flat = next(c for c in cells if c.text == "flat")
    assert inverse.colour and flat.colour and inverse.colour != flat.colour
    assert float(inverse.sort) < float(flat.sort)  # inverse sorts first
    slope = table.rows[0][labels.index("slope per doubling [95% CI]")].text
    assert "[" in slope and "]" in slope


def test_verdict_table_renders_sortable(html: str) -> None:
    # Escaping of its cells (markup in task and model names): tests/test_table_escaping.py.
    assert '<table class="sortable" id="verdict-table">' in html
    rows = re.search(r'id="verdict-table">.*?<tbody>(.*?)</tbody>', html, re.S)
    assert rows
    count = rows.group(1).count("<tr>")
    assert count > 4  # a row per curve: tasks × budget modes × knob levels
    assert html.count('class="verdict" style="background:') == count


def test_empty_analysis_sections_say_so_in_one_line(tmp_path: Path) -> None:
    recs = records_frame(synthetic_records(30, payload_at=None))
    stale = tmp_path / "plots" / "pareto.svg"  # from an earlier report with more data
    stale.parent.mkdir()
    stale.write_text("<svg/>")
    path = build_report(recs, SyntheticAnalysis(warnings=["<b>too few</b> budgets"]), tmp_path)
    page = path.read_text()
    assert "1 note from the analysis</summary>" in page
    assert "<li>&lt;b&gt;too few&lt;/b&gt; budgets</li>" in page
    assert "No curves to judge" in page
    assert "No natural-budget records" in page
    assert "No Pareto front" in page
    assert page.count("<img ") == 1  # only requested-vs-observed, drawn from the records
    # The stale pareto.svg is gone: plots/ matches the page.
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "budget_adherence.png", "budget_adherence.svg"
    ]  # fmt: skip


def test_a_run_without_records_still_renders(tmp_path: Path) -> None:
    path = build_report(records_frame([]), SyntheticAnalysis(), tmp_path)
    page = path.read_text()
    assert "the run has no records yet" in page
    assert page.count("<img ") == 0


# ---- sample browser data --------------------------------------------------------------


def test_browser_data_carries_every_field_the_browser_shows(
    html: str, records: pd.DataFrame
) -> None:
    data = embedded_data(html)
    columns, tables = data["columns"], data["tables"]
    assert isinstance(columns, dict) and isinstance(tables, dict)
    assert data["fields"] == list(FIELDS) and set(columns) == set(FIELDS)
    assert all(len(values) == len(records) for values in columns.values())
    i = 5
    rec = records.iloc[i]
    assert tables["task"][columns["task"][i]] == rec["task"]
    assert tables["budget"][columns["budget"][i]] == "natural"  # 5th of a question's 9
    assert columns["sample_id"][i] == rec["sample_id"]
    assert tables["prompt"][columns["prompt"][i]] == rec["prompt"]
    assert columns["reasoning"][i] == rec["reasoning"]
    assert columns["response"][i] == rec["response"]
    assert columns["answer"][i] == rec["answer"]
    assert columns["reasoning_tokens"][i] == rec["reasoning_tokens"]
    assert tables["meta"][columns["meta"][i]] == f"distractors={rec['meta.distractors']}"
    statuses = {STATUS[code] for code in columns["status"]}
    assert {"correct", "wrong", "unparsed", "error"} <= statuses
    flagged = [bool(f & 1) for f in columns["flags"]]
    assert flagged == records["truncated_in_reasoning"].tolist()


def test_meta_shows_knob_levels_as_written() -> None:
    frame = pd.DataFrame(
        {"task": ["a", "b"], "sample_id": ["1", "2"], "model": ["m", "m"],
         "budget_mode": ["natural"] * 2, "budget_tokens": [-1, -1],
         "meta.shots": [4.0, None], "meta.note": [None, "<i>x</i>"]}
    )  # fmt: skip
    payload = browser_data(frame).payload
    metas = [payload["tables"]["meta"][i] for i in payload["columns"]["meta"]]
    assert metas == ["shots=4", "note=<i>x</i>"]


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
    assert "characters cut" in short and "[… 9,608 characters cut …]" in short
    assert len(short) < 400 + 40
    assert shorten("short", 400) == "short"
    barely = "y" * 410  # cutting would add a note longer than what it removes
    assert shorten(barely, 400) == barely


def test_browser_data_fits_its_byte_budget_by_shortening_long_texts(
    records: pd.DataFrame,
) -> None:
    full = browser_data(records)
    assert full.cap is None and full.shortened == 0
    assert all(f & FLAG_WHOLE for f in full.payload["columns"]["flags"])
    budget = len(full.json.encode()) // 2
    small = browser_data(records, max_bytes=budget)
    assert len(small.json.encode()) <= budget
    assert small.cap is not None and small.shortened > 0
    assert len(small.payload["columns"]["reasoning"]) == len(records)  # nobody dropped
    assert json.loads(small.json) == small.payload


def test_every_cell_keeps_a_few_records_more_readable() -> None:
    records = pd.DataFrame(synthetic_rows(3000))  # big enough that most records get cut
    small = browser_data(records, max_bytes=len(browser_data(records).json.encode()) // 4)
    cols, tables = small.payload["columns"], small.payload["tables"]
    assert small.cap is not None and small.priority_cap is not None
    assert small.priority_cap > 4 * small.cap
    frame = pd.DataFrame(
        {
            "cell": [
                (tables["task"][t], tables["budget"][b], s)
                for t, b, s in zip(cols["task"], cols["budget"], cols["status"], strict=True)
            ],
            "full": records["reasoning"].str.len(),
            "shown": [len(r) for r in cols["reasoning"]],
        }
    )
    # The first records of each (task, budget, outcome) show up to the priority cap...
    first = frame.groupby("cell").head(4)
    assert (first["shown"] >= first["full"].clip(upper=small.priority_cap)).all()
    # ...and the rest no more than the low cap (plus the note saying what was cut).
    rest = frame.drop(first.index)
    assert (rest["shown"] <= small.cap + 40).all()
    assert (rest["full"] > small.cap + 40).mean() > 0.5  # the budget really was tight


# ---- plots ----------------------------------------------------------------------------


def test_plots_have_labelled_axes_legends_and_the_okabe_ito_palette() -> None:
    from matplotlib.colors import to_hex

    analysis = synthetic_analysis()
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


def test_a_task_with_two_metrics_gets_a_panel_per_metric() -> None:
    curves = synthetic_analysis().curves
    task = curves[curves["task"] == "zebra"]
    mae = task.assign(metric_name="mae")
    rmse = task.assign(metric_name="rmse", metric=task["metric"] + 1)
    fig = P.scaling_curves(pd.concat([mae, rmse], ignore_index=True))
    assert fig is not None
    titles = sorted(ax.get_title() for ax in fig.axes if ax.get_title())
    assert titles == ["zebra — MAE", "zebra — RMSE"]
    labels = {ax.get_title(): ax.get_ylabel() for ax in fig.axes if ax.get_title()}
    assert "lower is better" in labels["zebra — MAE"]


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


def test_number_formats() -> None:
    assert [fmt_num(v) for v in (None, float("nan"), 3.0, 12345.6, 0.004, 0.123456, -0.05)] == [
        "—", "—", "3", "12,346", "0.004", "0.123", "-0.05"
    ]  # fmt: skip
    assert fmt_num(0.00001234) == "1.23e-05"
    assert [fmt_p(v) for v in (0.0004, 0.004, 0.0312, None)] == ["<0.001", "0.004", "0.031", "—"]


def test_level_label() -> None:
    assert level_label("distractors", 4.0) == "distractors=4"
    assert level_label(None, None) == "all"
    assert level_label(float("nan"), "") == "all"


# ---- errors and atomic writes ---------------------------------------------------------


def test_write_report_names_the_path_of_a_missing_run_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(ConfigError, match=re.escape(str(missing))):
        write_report(missing)


def test_cli_reports_a_bad_run_folder_in_one_line_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from overthink.cli import main

    missing = tmp_path / "no-such-run"
    monkeypatch.setattr("sys.argv", ["overthink", "report", str(missing)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert str(missing) in err.replace("\n", "") and "Traceback" not in err


def test_write_report_rejects_a_folder_without_a_store(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path))):
        write_report(tmp_path)
    assert not (tmp_path / "report.html").exists()


def test_a_failed_write_leaves_the_previous_report_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recs = records_frame(synthetic_records(12, payload_at=None))
    path = build_report(recs, SyntheticAnalysis(), tmp_path)
    before = path.read_bytes()

    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("renderer died")

    monkeypatch.setattr("overthink.report.build.render_page", broken)
    with pytest.raises(RuntimeError):
        build_report(recs, SyntheticAnalysis(), tmp_path)
    assert path.read_bytes() == before
    assert [p for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


# ---- in a real browser ----------------------------------------------------------------
# Headless Chromium opens the page as a person would: no console errors (which include
# Content-Security-Policy violations and failed loads), every image decoded, the planted
# <script>/onerror payload ran nowhere and the sample browser shows it as text. Skipped,
# saying how to install a browser, where there is no Chromium.

BROWSER = pytest.mark.browser

READY = "document.body && document.body.getAttribute('data-ready') === '1'"


@pytest.fixture(scope="module")
def page(report: Path) -> Iterator[Page]:
    if chromium_path() is None:
        # CI sets this so that a broken browser install fails instead of skipping quietly.
        if os.environ.get("OVERTHINK_REQUIRE_BROWSER") == "1":
            pytest.fail(f"OVERTHINK_REQUIRE_BROWSER=1 but no Chromium: {INSTALL_HINT}")
        pytest.skip(f"headless Chromium not found: {INSTALL_HINT}")
    with headless_chromium(report.resolve().as_uri(), ready=READY) as page:
        yield page


def js(page: Page, expression: str) -> object:
    return page.evaluate(expression)


@BROWSER
def test_page_loads_without_console_errors(page: Page) -> None:
    assert page.console_errors == []
    assert PAYLOAD in str(js(page, "document.title"))  # shown as text, in the tab title too


@BROWSER
def test_every_image_loaded(page: Page) -> None:
    images = js(
        page,
        "Array.from(document.images).map(i => ({ok: i.complete && i.naturalWidth > 0,"
        " alt: i.alt}))",
    )
    assert isinstance(images, list) and len(images) == 6
    assert all(img["ok"] for img in images), images


@BROWSER
def test_planted_script_did_not_run_and_shows_as_text(page: Page, tmp_path: Path) -> None:
    assert js(page, "typeof window.__pwned") == "undefined"
    # Filter the sample browser down to the planted record and open it fully.
    js(page, """(() => {
        const box = document.getElementById('f-text');
        box.value = '__pwned';
        box.dispatchEvent(new Event('input'));
    })()""")  # fmt: skip
    page.wait_for("document.getElementById('sb-count').textContent.startsWith('1 of')")
    js(page, """(() => {
        const det = document.querySelector('#sb-list details');
        det.open = true;
    })()""")  # fmt: skip
    page.wait_for("document.querySelector('#sb-list details.reasoning') !== null")
    js(page, "document.querySelector('#sb-list details.reasoning').open = true")
    texts = js(page, "Array.from(document.querySelectorAll('#sb-list pre'), p => p.textContent)")
    assert isinstance(texts, list) and len(texts) == 3  # prompt, reasoning, response
    prompt, reasoning, response = texts
    assert prompt.startswith(PAYLOAD)
    assert reasoning.startswith(PAYLOAD)
    assert response == PAYLOAD
    assert js(page, "document.querySelectorAll('#sb-list img, #sb-list script').length") == 0
    assert js(page, "typeof window.__pwned") == "undefined"
    assert page.console_errors == []
    js(page, "document.getElementById('samples').scrollIntoView()")
    shot = page.screenshot(tmp_path / "report.png")
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
    keep = Path.cwd() / ".pytest_cache" / "report-screenshot.png"
    if keep.parent.is_dir():
        shutil.copy(shot, keep)


@BROWSER
def test_sample_browser_filters_and_paginates(page: Page) -> None:
    js(page, """(() => {
        const box = document.getElementById('f-text');
        box.value = '';
        box.dispatchEvent(new Event('input'));
    })()""")  # fmt: skip
    page.wait_for("document.getElementById('sb-count').textContent.startsWith('240 of 240')")
    assert js(page, "document.querySelectorAll('#sb-list > li').length") == 50
    assert js(page, "document.getElementById('sb-page').textContent") == "page 1 of 5"
    js(page, "document.getElementById('sb-next').click()")
    assert js(page, "document.getElementById('sb-page').textContent") == "page 2 of 5"
    js(page, """(() => {
        const s = document.getElementById('f-status');
        s.value = 'error';
        s.dispatchEvent(new Event('change'));
    })()""")  # fmt: skip
    shown = js(page, "Array.from(document.querySelectorAll('#sb-list > li'), li => li.className)")
    assert isinstance(shown, list) and shown and set(shown) == {"st-error"}


@BROWSER
def test_verdict_table_sorts_on_click(page: Page) -> None:
    order = js(page, """(() => {
        const table = document.getElementById('verdict-table');
        const heads = Array.from(table.tHead.rows[0].cells);
        const col = heads.findIndex(th => th.textContent === 'verdict');
        heads[col].click();
        const first = Array.from(table.tBodies[0].rows, r => r.cells[col].textContent);
        heads[col].click();
        const second = Array.from(table.tBodies[0].rows, r => r.cells[col].textContent);
        return JSON.stringify([first, second]);
    })()""")  # fmt: skip
    first, second = json.loads(str(order))
    rank = ["inverse", "peaked", "positive", "flat", "insufficient"]
    assert len(set(first)) > 1
    assert [rank.index(v) for v in first] == sorted(rank.index(v) for v in first)
    assert second == first[::-1]
    assert page.console_errors == []
