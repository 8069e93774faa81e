"""Guards for bugs that were planted in the analysis and that no test caught (issue #11).

Each test below fails when its bug is put back: BH adjusted per curve instead of once per
run, the last question never drawn by the bootstrap, a Pareto front computed across
tasks, verifier (LLM judge) cost left out of best_of_n / weighted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from frames import number_at
from overthink.analysis import analyze, records_frame
from overthink.analysis.groups import iter_groups
from overthink.analysis.pareto import pareto
from overthink.analysis.pipeline import scaling_verdicts
from overthink.analysis.pools import POOL_COLUMNS
from overthink.analysis.stats import cluster_weights
from overthink.core import Record
from overthink.experiment.store import Store
from overthink.strategies import combine
from overthink.testing.synthetic import synthetic_frame


def test_bh_adjusts_once_over_all_curves_of_a_run() -> None:
    # 200 null curves in one run. One BH family over all 400 tests (2 per curve) keeps the
    # chance of *any* false call near 5 %, so at most a couple of the 200 curves get a
    # direction; adjusting each curve on its own (2 tests) would call ~5 % of them (≈ 10).
    df = synthetic_frame(
        tasks=[f"sim{i:03d}" for i in range(200)], n_questions=30, n_samples=2,
        question_spread=0.25, seed=13,
    )  # fmt: skip
    _, run_wide = scaling_verdicts(df, n_boot=300, seed=3)
    _, per_curve = scaling_verdicts(df, n_boot=300, seed=3, adjust=False)
    called = int((run_wide["verdict"] != "flat").sum())
    assert called <= 2, called
    assert (per_curve["verdict"] != "flat").sum() >= 4  # the weaker family does call some


@pytest.mark.parametrize("n_clusters", [2, 7, 37])
def test_every_question_is_drawn_once_per_resample_on_average(n_clusters: int) -> None:
    w = cluster_weights(n_clusters, 20_000, np.random.default_rng(n_clusters))
    per_question = w.mean(axis=0)
    # Each question, the last one included, is drawn Binomial(G, 1/G) times: mean 1.
    assert np.all(np.abs(per_question - 1.0) < 0.03), per_question
    assert (w[:, -1] > 0).mean() == pytest.approx(1 - (1 - 1 / n_clusters) ** n_clusters, abs=0.02)


def test_group_weights_give_every_question_mean_one() -> None:
    df = synthetic_frame(levels=(0, 3), n_questions=9, n_samples=1, seed=5)
    codes = pd.factorize(df["question"])[0].astype(np.int64)
    base = pd.factorize(df["meta.question"])[0].astype(np.int64)
    (group,) = iter_groups(
        df, {"synthetic": ["distractors"]}, n_boot=20_000, seed=0, question_codes=codes,
        base_codes=base,
    )  # fmt: skip
    for stratum in group.strata:
        means = stratum.weights.mean(axis=0)
        assert stratum.n_questions == 9
        assert np.all(np.abs(means - 1.0) < 0.03), means


def _config_rows(task: str, cost: float, metric: float) -> list[dict[str, Any]]:
    rows = []
    for q in range(10):
        rows.append(
            {
                "run": "r", "trial_id": f"{task}-{q}", "task": task, "sample_id": f"q{q}",
                "model": "m", "budget_mode": "forced", "budget_tokens": 256,
                "strategy": "majority@4", "score": float(q < metric * 10), "answer": "2",
                "prompt_tokens": 0, "reasoning_tokens": cost, "answer_tokens": 0,
            }
        )  # fmt: skip
    return rows


def test_pareto_front_is_per_task() -> None:
    # Task "cheap" has a config at cost 10 scoring 0.9; task "dear" only costs 1000 and
    # scores 0.5. Across tasks "cheap" would dominate "dear"; per task both are on a front.
    records = records_frame(_config_rows("cheap", 10, 0.9) + _config_rows("dear", 1000, 0.5))
    front = pareto(pd.DataFrame(columns=POOL_COLUMNS), records, cost="tokens", n_boot=50)
    assert set(front["task"]) == {"cheap", "dear"}
    assert front.set_index("task")["on_front"].to_dict() == {"cheap": True, "dear": True}
    assert not front["dominated"].any()


def _judged(index: int, answer: str, score: float, judge: dict[str, float]) -> Record:
    return Record(
        run="r", trial_id=f"t{index}", task="misleading_math", sample_id="q0", model="m",
        budget_mode="forced", budget_tokens=128, sample_index=index, seed=index,
        answer=answer, target="2", score=score, prompt_tokens=50, reasoning_tokens=100,
        answer_tokens=5, latency_s=1.0 + index, verifier="judge", verifier_score=score,
        resolved={"verifiers": {"judge": score}, "verifier_details": {"judge": judge}},
    )  # fmt: skip


def test_verifier_cost_is_added_to_verifier_strategies_only() -> None:
    judge = [
        {"prompt_tokens": 300, "completion_tokens": 7, "latency_s": 0.5},
        {"prompt_tokens": 310, "completion_tokens": 9, "latency_s": 2.5},
        {"prompt_tokens": 290, "completion_tokens": 4, "latency_s": 1.0},
    ]
    group = [_judged(i, a, s, j) for i, (a, s, j) in
             enumerate(zip(["2", "3", "2"], [1.0, 0.0, 1.0], judge, strict=True))]  # fmt: skip
    records, _ = combine(group, ["majority", "best_of_n", "weighted"])
    by = {r.strategy.split("@")[0]: r for r in records}
    # Majority needs no judge: 3 samples' tokens, slowest sample's time.
    assert by["majority"].prompt_tokens == 150 and by["majority"].answer_tokens == 15
    assert by["majority"].latency_s == 3.0
    for name in ("best_of_n", "weighted"):
        r = by[name]
        assert r.prompt_tokens == 150 + 900  # + every member's judge prompt
        assert r.answer_tokens == 15 + 20  # + every judge reply
        assert r.latency_s == pytest.approx(3.0 + 2.5)  # + the slowest judge call
        assert r.resolved["strategy"]["verifier_cost"] == {
            "prompt_tokens": 900, "completion_tokens": 20, "latency_s": 2.5,
        }  # fmt: skip


def test_pool_estimators_pay_for_the_judge() -> None:
    rows = []
    for q in range(12):
        for i in range(4):
            score = float((q + i) % 3 != 0)
            usage = {"prompt_tokens": 100, "completion_tokens": 10, "latency_s": 0.25}
            rec = _judged(i, "2" if score else "4", score, usage)
            rows.append(rec.model_copy(update={"trial_id": f"q{q}-{i}", "sample_id": f"q{q}"}))
    pools = analyze(records_frame(rows), n_boot=50).pools
    at = pools[(pools["level"] == "all") & (pools["k"] == 4)].set_index("estimator")
    sample_tokens = 4 * (50 + 100 + 5)
    assert at.loc["maj@k", "mean_cost"] == pytest.approx(sample_tokens)
    assert at.loc["best_of_k", "mean_cost"] == pytest.approx(sample_tokens + 4 * 110)
    assert at.loc["weighted@k", "mean_cost"] == pytest.approx(sample_tokens + 4 * 110)
    # Latency: the slowest of the 4 samples (4.0 s), plus the slowest judge call.
    assert at.loc["maj@k", "cost_latency"] == pytest.approx(4.0)
    assert at.loc["best_of_k", "cost_latency"] == pytest.approx(4.25)


def test_judge_cost_survives_analyze_of_a_run_folder(tmp_path: Path) -> None:
    # `analyze RUN_DIR` reads stores without their text (analysis.lean): the judge's
    # usage inside `resolved` must still reach the verifier-based pool estimators.
    rows = []
    for q in range(8):
        for i in range(2):
            usage = {"prompt_tokens": 100, "completion_tokens": 10, "latency_s": 0.25}
            rec = _judged(i, "2", 1.0, usage)
            rows.append(rec.model_copy(update={"trial_id": f"q{q}-{i}", "sample_id": f"q{q}"}))
    tmp_path.mkdir(exist_ok=True)
    with Store.of_run(tmp_path, readonly=False) as store:
        store.add_many(rows)
    pools = analyze(tmp_path, n_boot=20).pools
    at = pools[(pools["level"] == "all") & (pools["k"] == 2)].set_index("estimator")
    judge_cost = number_at(at, "best_of_k", "mean_cost") - number_at(at, "maj@k", "mean_cost")
    assert judge_cost == pytest.approx(220)
