"""Do the 95 % question-bootstrap intervals cover the truth 95 % of the time?

500 simulated experiments of a known Bernoulli setting: every question has its own
success probability p_q = 0.7 + U(−s, s) and k samples drawn from it, so the population
accuracy is exactly 0.7 and the k samples of a question are correlated through p_q. An
interval that resampled records instead of questions would be too narrow here.
"""

from __future__ import annotations

import pandas as pd
import pytest

from overthink.analysis.pipeline import scaling_verdicts
from overthink.testing.synthetic import synthetic_frame

TRUE_ACCURACY = 0.7


@pytest.mark.parametrize(
    ("n_questions", "n_samples", "spread", "seed"),
    [(100, 4, 0.2, 21), (60, 8, 0.3, 22)],
)
def test_curve_intervals_cover_the_true_accuracy(
    n_questions: int, n_samples: int, spread: float, seed: int
) -> None:
    df = synthetic_frame(
        tasks=[f"sim{i:03d}" for i in range(500)], budgets=(1024,), n_questions=n_questions,
        n_samples=n_samples, base=TRUE_ACCURACY, question_spread=spread, seed=seed,
    )  # fmt: skip
    curves, _ = scaling_verdicts(df, n_boot=1000, seed=seed)
    assert len(curves) == 500
    covered = (curves["ci_low"] <= TRUE_ACCURACY) & (curves["ci_high"] >= TRUE_ACCURACY)
    assert 0.93 <= covered.mean() <= 0.97, covered.mean()


def test_variants_of_one_item_are_resampled_together() -> None:
    """The pooled curve clusters by base item: an item asked at 4 knob levels is one draw.

    Each item is either easy (right at every level and budget) or hard (always wrong):
    the 4 variants carry no independent information, so the pooled interval must be as
    wide as that of 30 items, not of 120 questions.
    """
    from overthink.analysis import analyze, records_frame
    from overthink.core import Record

    def frame(with_item: bool) -> pd.DataFrame:
        records = []
        for item in range(30):
            easy = item % 2 == 0
            for level in (0, 1, 3, 5):
                for budget in (0, 64):
                    meta: dict[str, object] = {"distractors": level}
                    if with_item:
                        meta["question"] = item
                    records.append(
                        Record(run="r", trial_id=f"{item}-{level}-{budget}", task="t",
                               sample_id=f"i{item}-d{level}", model="m", budget_mode="forced",
                               budget_tokens=budget, answer="2", score=float(easy),
                               reasoning_tokens=budget, meta=meta)
                    )  # fmt: skip
        return records_frame(records)

    def width(df: pd.DataFrame, level: object) -> float:
        curves = analyze(df, n_boot=400, seed=1).curves
        row = curves[(curves["level"] == level) & (curves["budget_tokens"] == 64)].iloc[0]
        return float(row["ci_high"] - row["ci_low"])

    clustered, naive = frame(True), frame(False)
    # Pooled: ~sqrt(4) = 2x wider once the 4 variants of an item move together.
    assert width(clustered, "all") > 1.6 * width(naive, "all")
    # One level holds one variant per item: clustering changes nothing there.
    assert abs(width(clustered, 3) - width(naive, 3)) < 0.1
