"""The report in a real browser: headless Chromium opens it as a person would.

Asserts no console errors (which include Content-Security-Policy violations and failed
loads), every image decoded, the planted ``<script>``/``onerror`` payload ran nowhere, and
the sample browser shows that payload as text. Skipped, with how to install a browser,
where there is no Chromium.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from overthink.analysis.frame import load_run
from overthink.report import build_report
from overthink.report._synthetic import PAYLOAD, synthetic_analysis, write_synthetic_run
from overthink.report.headless import INSTALL_HINT, Page, chromium_path, headless_chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        chromium_path() is None, reason=f"headless Chromium not found: {INSTALL_HINT}"
    ),
]

READY = "document.body && document.body.getAttribute('data-ready') === '1'"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = write_synthetic_run(tmp_path_factory.mktemp("browser") / "run", 150)
    return build_report(load_run(run), synthetic_analysis(), run, manifest={"name": PAYLOAD})


@pytest.fixture(scope="module")
def page(report: Path) -> Iterator[Page]:
    with headless_chromium(report.resolve().as_uri(), ready=READY) as page:
        yield page


def js(page: Page, expression: str) -> object:
    return page.evaluate(expression)


def test_page_loads_without_console_errors(page: Page) -> None:
    assert page.console_errors == []
    assert js(page, "document.title").startswith(PAYLOAD[:20])  # type: ignore[union-attr]


def test_every_image_loaded(page: Page) -> None:
    images = js(
        page,
        "Array.from(document.images).map(i => ({ok: i.complete && i.naturalWidth > 0,"
        " alt: i.alt}))",
    )
    assert isinstance(images, list) and len(images) == 6
    assert all(img["ok"] for img in images), images


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


def test_sample_browser_filters_and_paginates(page: Page) -> None:
    js(page, """(() => {
        const box = document.getElementById('f-text');
        box.value = '';
        box.dispatchEvent(new Event('input'));
    })()""")  # fmt: skip
    page.wait_for("document.getElementById('sb-count').textContent.startsWith('150 of 150')")
    assert js(page, "document.querySelectorAll('#sb-list > li').length") == 50
    assert js(page, "document.getElementById('sb-page').textContent") == "page 1 of 3"
    js(page, "document.getElementById('sb-next').click()")
    assert js(page, "document.getElementById('sb-page').textContent") == "page 2 of 3"
    js(page, """(() => {
        const s = document.getElementById('f-status');
        s.value = 'error';
        s.dispatchEvent(new Event('change'));
    })()""")  # fmt: skip
    shown = js(page, "Array.from(document.querySelectorAll('#sb-list > li'), li => li.className)")
    assert isinstance(shown, list) and shown and set(shown) == {"st-error"}


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
    assert first[0] == "inverse" and first[-1] == "flat"
    assert second == first[::-1]
    assert page.console_errors == []
