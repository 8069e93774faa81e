"""The report: one self-contained HTML page plus the same figures as PNG and SVG.

``write_report(run_dir)`` reads a run folder's store, runs the analysis and writes
``report.html`` (images, styles, script and data inline: it opens offline in any browser)
and ``plots/*.png|*.svg``.
"""

from overthink.report.build import REPORT_FILE, AnalysisLike, build_report, write_report

__all__ = ["REPORT_FILE", "AnalysisLike", "build_report", "write_report"]
