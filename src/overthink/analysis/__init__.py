"""Analysis: pure functions from records to DataFrames.

``analyze(records)`` runs everything — scaling curves with question-clustered bootstrap
CIs, inverse-scaling verdicts, natural-overthinking ranks and bins, the
(metric × length × knob) cube, pool estimators and Pareto fronts — and returns an
:class:`Analysis` of DataFrames. ``records_frame``/``load_run`` build its input;
``scaling_verdicts`` is the fast path for curves and verdicts only, and
``overthink.testing.synthetic.synthetic_frame`` makes records with a planted, known effect.
"""

from overthink.analysis.frame import load_run, records_frame
from overthink.analysis.pipeline import TABLES, Analysis, analyze, scaling_verdicts

__all__ = ["TABLES", "Analysis", "analyze", "load_run", "records_frame", "scaling_verdicts"]
