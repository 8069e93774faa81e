"""Benchmark: the report of a 50,000-record run — size, build time, and time to open.

Writes a synthetic run (no model needed), runs ``write_report`` on it (the real analysis
included), then opens the page in headless Chromium and times how long it takes to become
usable (the sample browser rendered), and how long a full-text search over every record
takes. Fails (exit 1) if the page is 20 MB or more or takes 5 s or more to open.

    .venv/bin/python benchmarks/bench_report.py [--records 50000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from overthink.report import write_report
from overthink.testing.browser import INSTALL_HINT, chromium_path, headless_chromium
from overthink.testing.report_runs import write_synthetic_run

SIZE_LIMIT = 20_000_000  # decimal MB: the stricter reading
OPEN_LIMIT_S = 5.0
READY = "document.body && document.body.getAttribute('data-ready') === '1'"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--keep", type=Path, help="write the run here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        run = (args.keep or Path(tmp)) / "run"
        t0 = time.perf_counter()
        write_synthetic_run(run, args.records, payload_at=None)
        t1 = time.perf_counter()
        path = write_report(run)
        t2 = time.perf_counter()
        size = path.stat().st_size
        print(f"records:            {args.records:,}")
        print(f"synthetic run:      {t1 - t0:.1f} s")
        print(f"write_report:       {t2 - t1:.1f} s (analysis + plots + page)")
        print(f"report.html:        {size / 1e6:.2f} MB (limit {SIZE_LIMIT / 1e6:.1f} MB)")
        ok = size < SIZE_LIMIT
        if chromium_path() is None:
            print(f"open time:          skipped, no Chromium ({INSTALL_HINT})")
            return 0 if ok else 1
        with headless_chromium(path.resolve().as_uri(), ready=READY, timeout=60) as page:
            in_page_ms = float(page.evaluate("document.body.getAttribute('data-ready-ms')"))
            before = page.evaluate("document.getElementById('sb-count').textContent")
            start = float(page.evaluate("performance.now()"))
            # A sample id: few matches, but every record's text is scanned to find them.
            page.evaluate("""(() => {
                const box = document.getElementById('f-text');
                box.value = 'misl-000123';
                box.dispatchEvent(new Event('input'));
            })()""")
            page.wait_for(f"document.getElementById('sb-count').textContent !== {before!r}")
            # The search itself waits out a 250 ms typing debounce first.
            search_ms = float(page.evaluate("performance.now()")) - start - 250
            errors = list(page.console_errors)
        print(f"open (navigation → usable, wall): {page.load_s:.2f} s")
        print(f"open (in-page, performance.now at ready): {in_page_ms / 1000:.2f} s")
        print(f"first full-text search over all records: {max(search_ms, 0) / 1000:.2f} s")
        print(f"console errors:     {errors or 'none'}")
        ok = ok and page.load_s < OPEN_LIMIT_S and not errors
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
