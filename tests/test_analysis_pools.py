"""Pool estimators against brute force over every k-subset."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from frames import number_at
from overthink.analysis import analyze, records_frame
from overthink.analysis.pools import canonical_answers, expected_best, order_weights

ANSWERS = ["2", "2.0", "3", "4", None, "<answer>2</answer>"]


def _frame(
    questions: Sequence[Sequence[tuple[str | None, float]]], *, budget: int = 512
) -> pd.DataFrame:
    """Records for one task/budget: per question a list of (answer, verifier score)."""
    rows = []
    for qi, samples in enumerate(questions):
        for si, (answer, ver) in enumerate(samples):
            norm = (
                None if answer is None else answer.replace("<answer>", "").replace("</answer>", "")
            )
            correct = norm is not None and float(norm) == 2.0
            rows.append(
                {
                    "run": "r", "trial_id": f"{qi}-{si}", "task": "t", "sample_id": f"q{qi}",
                    "model": "m", "budget_mode": "forced", "budget_tokens": budget,
                    "sample_index": si, "answer": answer, "target": "2", "kind": "numeric",
                    "score": 1.0 if correct else 0.0, "verifier_score": ver,
                    "reasoning_tokens": 100 + 10 * si, "prompt_tokens": 50, "answer_tokens": 5,
                    "latency_s": 1.0 + si,
                }
            )  # fmt: skip
    return records_frame(rows)


def _random_questions(
    rng: np.random.Generator, n_q: int, n: int
) -> list[list[tuple[str | None, float]]]:
    out = []
    for _ in range(n_q):
        out.append(
            [
                (ANSWERS[int(rng.integers(len(ANSWERS)))], float(np.round(rng.random(), 1)))
                for _ in range(n)
            ]
        )
    return out


def _key(answer: str | None) -> float | None:
    if answer is None:
        return None
    return float(answer.replace("<answer>", "").replace("</answer>", ""))


def _brute(samples: list[tuple[str | None, float]], k: int, how: str) -> float:
    vals = []
    for subset in itertools.combinations(samples, k):
        correct = [1.0 if _key(a) == 2.0 else 0.0 for a, _ in subset]
        if how == "pass":
            vals.append(max(correct))
        elif how == "best":
            top = max(v for _, v in subset)
            vals.append(
                float(np.mean([c for c, (_, v) in zip(correct, subset, strict=True) if v == top]))
            )
        else:
            tally: defaultdict[float, float] = defaultdict(float)
            for a, v in subset:
                if (key := _key(a)) is not None:
                    tally[key] += 1.0 if how == "maj" else v
            if not tally:
                vals.append(0.0)  # nobody answered: the pool abstains (wrong)
                continue
            if max(tally.values()) == 0:
                # Every vote weighs 0: the tie rule takes the earliest answered sample, so
                # over orderings each answered sample is the pick equally often.
                picks = [
                    c for c, (a, _) in zip(correct, subset, strict=True) if _key(a) is not None
                ]
                vals.append(float(np.mean(picks)))
                continue
            top = max(tally.values())
            winners = [a for a, t in tally.items() if math.isclose(t, top, rel_tol=1e-9)]
            vals.append(float(np.mean([1.0 if w == 2.0 else 0.0 for w in winners])))
    return float(np.mean(vals))


@pytest.mark.parametrize("n", [1, 3, 6])
def test_estimators_equal_brute_force_over_all_subsets(n: int) -> None:
    rng = np.random.default_rng(n)
    questions = _random_questions(rng, 7, n)
    pools = analyze(_frame(questions), n_boot=50).pools
    name_of = {"pass": "pass@k", "maj": "maj@k", "best": "best_of_k", "weighted": "weighted@k"}
    for how, estimator in name_of.items():
        rows = pools[pools["estimator"] == estimator].set_index("k")
        assert list(rows.index) == list(range(1, n + 1))
        for k in range(1, n + 1):
            want = np.mean([_brute(q, k, how) for q in questions])
            assert rows.loc[k, "metric"] == pytest.approx(want, abs=1e-9), (estimator, k)
            assert bool(rows.loc[k, "exact"])


def test_pass_at_k_is_the_unbiased_estimator() -> None:
    # 1 − C(n−c, k)/C(n, k) for n = 10 samples with c correct.
    for c in range(11):
        row = np.array([[1.0] * c + [0.0] * (10 - c)])
        got = expected_best(row, 10)[0]
        want = [1 - math.comb(10 - c, k) / math.comb(10, k) for k in range(1, 11)]
        assert np.allclose(got, want)


def test_order_weights_are_probabilities() -> None:
    w = order_weights(9, 12)
    assert np.allclose(w[:, :9].sum(axis=0), 1.0)
    assert np.isnan(w[:, 9:]).all()


def test_majority_ties_are_counted_not_hidden() -> None:
    # One right and one wrong answer: maj@2 is a coin flip, and the tie is reported.
    questions = [[("2", 0.5), ("3", 0.5)]] * 4
    pools = analyze(_frame(questions), n_boot=50).pools
    maj = pools[(pools["estimator"] == "maj@k") & (pools["k"] == 2)].iloc[0]
    assert maj["metric"] == pytest.approx(0.5)
    assert maj["tie_rate"] == pytest.approx(1.0)


def test_large_pools_fall_back_to_random_subsets() -> None:
    rng = np.random.default_rng(5)
    questions = _random_questions(rng, 3, 16)  # C(16, 8) = 12 870 subsets: sampled
    pools = analyze(_frame(questions), n_boot=20).pools
    maj = pools[pools["estimator"] == "maj@k"].set_index("k")
    assert not bool(maj.loc[8, "exact"]) and bool(maj.loc[2, "exact"])
    want = np.mean([_brute(q, 8, "maj") for q in questions])
    assert maj.loc[8, "metric"] == pytest.approx(want, abs=0.03)


def test_answers_vote_after_normalisation() -> None:
    codes = canonical_answers(np.array(["2", "2.0", " 2 ", "3", None], dtype=object), "numeric")
    assert codes[0] == codes[1] == codes[2] != codes[3]
    assert codes[4] == -1
    text = canonical_answers(np.array(["Paris", "paris.", "Rome"], dtype=object), "exact")
    assert text[0] == text[1] != text[2]


def test_pool_costs_scale_with_k() -> None:
    questions = [[("2", 0.1 * i) for i in range(4)]] * 3
    pools = analyze(_frame(questions), n_boot=20).pools
    rows = pools[pools["estimator"] == "maj@k"].set_index("k")
    per_sample = 50 + 5 + np.mean([100, 110, 120, 130])
    assert np.allclose(rows["mean_cost"], [k * per_sample for k in range(1, 5)])
    # Parallel samples: latency of k is the expected slowest of k (latencies 1..4 s).
    assert rows.loc[1, "cost_latency"] == pytest.approx(2.5)
    assert rows.loc[4, "cost_latency"] == pytest.approx(4.0)


def test_pools_have_intervals_and_levels() -> None:
    from overthink.testing.synthetic import synthetic_frame

    df = synthetic_frame(levels=(0, 3), n_questions=30, n_samples=4, verifier=True, seed=3)
    pools = analyze(df, n_boot=200).pools
    assert set(pools["level"]) == {"all", 0, 3}
    assert set(pools["estimator"]) == {"pass@k", "maj@k", "best_of_k", "weighted@k"}
    ok = pools.dropna(subset=["ci_low"])
    assert ((ok["ci_low"] <= ok["metric"] + 1e-12) & (ok["metric"] <= ok["ci_high"] + 1e-12)).all()
    # pass@k only grows with k.
    for _, cell in pools[pools["estimator"] == "pass@k"].groupby(["budget_tokens", "level"]):
        assert np.all(np.diff(cell.sort_values("k")["metric"].to_numpy()) >= -1e-12)


def test_error_metric_pools_never_score_a_silent_pool_as_perfect() -> None:
    # Regression: errors 10-12, a judge that scored every sample 0, and one question
    # where one of the three samples gave no answer.
    rows: list[dict[str, Any]] = []
    for q in range(4):
        for s in range(3):
            answer = None if (q == 0 and s == 0) else str(20 + q + s)
            rows.append(
                {
                    "run": "r", "trial_id": f"{q}-{s}", "task": "g", "sample_id": f"q{q}",
                    "model": "m", "budget_mode": "forced", "budget_tokens": 64,
                    "sample_index": s, "answer": answer, "target": "10", "kind": "regression",
                    "score": None if answer is None else float(answer) - 10.0,
                    "verifier_score": 0.0, "reasoning_tokens": 50, "prompt_tokens": 20,
                    "answer_tokens": 3,
                }
            )  # fmt: skip
    pools = analyze(records_frame(rows), n_boot=20).pools
    maj = pools[(pools["estimator"] == "maj@k") & (pools["level"] == "all")].set_index("k")
    weighted = pools[(pools["estimator"] == "weighted@k") & (pools["level"] == "all")]
    weighted = weighted.set_index("k")
    errors = [r["score"] for r in rows if r["score"] is not None]
    # k = 1: the mean error of the answered samples; the silent sample is left out.
    assert maj.loc[1, "metric"] == pytest.approx(np.mean(errors[:2]) / 4 + np.mean(
        [np.mean(errors[2 + 3 * i : 5 + 3 * i]) for i in range(3)]) * 3 / 4)  # fmt: skip
    # Zero verifier weight everywhere: the vote falls back to the answered samples, so its
    # error is in the range of real errors, never the 0.0 of a perfect prediction.
    for k in (1, 2, 3):
        assert min(errors) <= number_at(weighted, k, "metric") <= max(errors)
