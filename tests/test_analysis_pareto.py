"""Cost models and Pareto fronts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from overthink.analysis import analyze, records_frame
from overthink.analysis.cost import (
    MODEL_SHAPES,
    ModelShape,
    kinetics_parts,
    lookup,
    price_for,
    shape_for,
)
from overthink.analysis.pareto import cheapest, mark_front
from overthink.testing.synthetic import synthetic_frame


def test_dominance() -> None:
    cost = [1.0, 2.0, 2.0, 3.0, 0.5, np.nan]
    metric = [0.5, 0.7, 0.6, 0.7, 0.2, 0.99]
    front, dominated = mark_front(cost, metric)
    assert front.tolist() == [True, True, False, False, True, False]
    assert dominated.tolist() == [False, False, True, True, False, False]
    # Lower-is-better metrics flip the comparison.
    front, _ = mark_front([1.0, 2.0], [0.3, 0.1], higher_is_better=False)
    assert front.tolist() == [True, True]
    front, _ = mark_front([1.0, 2.0], [0.1, 0.3], higher_is_better=False)
    assert front.tolist() == [True, False]


def test_kinetics_formula_by_hand() -> None:
    shape = ModelShape(params=1e9, layers=2, heads=4, kv_heads=2, head_dim=8)
    lin, lout, intensity = 100.0, 50.0, 10.0
    own, shared = kinetics_parts(shape, np.array([lin]), np.array([lout]), intensity)
    kv = 2 * 2 * 2 * 8 * 2.0  # K and V, layers, kv heads, head dim, bytes
    compute = 2 * 1e9 * lout + 2 * (2 * lin + lout) * lout * (2 * 4 * 8)
    memory = kv * (lin * lout + lout**2 / 2)
    assert own[0] + shared[0] * lout == pytest.approx(compute + intensity * memory)


def test_kinetics_matches_the_paper_for_n_samples() -> None:
    # Kinetics dense cost for N trials of equal length: the prompt KV is read once per step.
    shape = MODEL_SHAPES["qwen3-8b"]
    n, lin, lout, intensity = 4, 300.0, 2000.0, 562.5
    own, shared = kinetics_parts(shape, np.full(n, lin), np.full(n, lout), intensity)
    ours = own.sum() + shared[0] * lout
    d = shape.layers * shape.head_dim
    compute = (2 * shape.params * lout + 2 * (2 * lin + lout) * lout * shape.heads * d) * n
    memory = 2 * (2 * lin + lout * n) * lout * shape.kv_heads * d
    assert ours == pytest.approx(compute + intensity * memory)


def test_lookup_prefers_the_longest_match() -> None:
    table = {"o3": 1, "o3-mini": 2, "qwen3-8b": 3}
    assert lookup("openai/o3-mini-2025", table) == 2
    assert lookup("openai/o3", table) == 1
    assert lookup("local/Qwen3-8B-Q4_K_M.gguf", table) == 3
    assert lookup("llama", table) is None
    assert shape_for("embedded/SmolLM2-135M-Instruct") == MODEL_SHAPES["smollm2-135m"]


def test_user_prices_override_and_split() -> None:
    assert price_for("my-model") is None
    assert price_for("my-model", {"my-model": 2.0}) == (2.0, 2.0)
    assert price_for("my-model", {"my-model:input": 1.0, "my-model:output": 4.0}) == (1.0, 4.0)
    assert price_for("anthropic/claude-sonnet-4-20250514") == (3.0, 15.0)
    assert price_for("claude-sonnet-4", {"claude-sonnet-4": 9.0}) == (9.0, 9.0)


def test_pareto_front_and_cheapest_configuration() -> None:
    df = synthetic_frame(
        models=("qwen3-8b",), budgets=(256, 1024, 4096), n_questions=60, n_samples=4,
        slope=-0.05, verifier=True, seed=41,
    )  # fmt: skip
    result = analyze(df, cost="eflops", n_boot=200, target_metric=0.7)
    front = result.pareto
    assert set(front["cost_axis"]) == {"eflops"}
    assert set(front["strategy"]) == {"single", "majority", "best_of_n", "weighted"}
    assert front["cost"].notna().all()
    assert (front["on_front"] != front["dominated"]).all()
    # Nothing on the front is beaten by a point that is cheaper and at least as good.
    on = front[front["on_front"]]
    for _, row in on.iterrows():
        better = front[(front["cost"] < row["cost"]) & (front["metric"] >= row["metric"])]
        assert better.empty
    # More thinking costs more eFLOPs, per sample.
    single = front[front["strategy"] == "single"].sort_values("budget_tokens")
    assert single["cost"].is_monotonic_increasing
    pick = result.cheapest.iloc[0]
    assert pick["metric"] >= 0.7
    reaching = front[front["metric"] >= 0.7]
    assert pick["cost"] == reaching["cost"].min()


def test_cheapest_without_target_is_within_the_best_interval() -> None:
    table = pd.DataFrame(
        {
            "label": ["a", "b", "c"],
            "task": "t",
            "cost": [1.0, 2.0, 3.0],
            "metric": [0.5, 0.79, 0.8],
            "ci_low": [0.4, 0.7, 0.75],
            "ci_high": [0.6, 0.85, 0.85],
            "higher_is_better": True,
        }
    )
    for col in ("model", "budget_mode", "budget_tokens", "n", "strategy", "cost_axis",
                "on_front", "dominated", "metric_name", "source", "cost_tokens", "cost_usd",
                "cost_latency", "cost_eflops"):  # fmt: skip
        table[col] = None
    pick = cheapest(table)
    assert pick["label"].tolist() == ["b"]
    assert pick["threshold"].iloc[0] == pytest.approx(0.75)


def test_usd_axis_uses_prices_and_warns_without_them() -> None:
    df = synthetic_frame(models=("house-model",), budgets=(256, 1024), n_questions=20, seed=42)
    result = analyze(df, cost="usd", n_boot=50)
    assert result.pareto["cost"].isna().all()
    assert any("no price" in w for w in result.warnings)
    priced = analyze(df, cost="usd", n_boot=50, prices={"house-model": 10.0})
    single = priced.pareto[priced.pareto["strategy"] == "single"].iloc[0]
    assert single["cost"] == pytest.approx(single["cost_tokens"] * 10.0 / 1e6)


def test_strategy_records_are_configurations() -> None:
    rows = []
    for q in range(10):
        rows.append(
            {
                "run": "r", "trial_id": f"s{q}", "task": "t", "sample_id": f"q{q}", "model": "m",
                "budget_mode": "forced", "budget_tokens": 256, "strategy": "self_consistency@8",
                "score": float(q % 5 != 0), "answer": "2", "prompt_tokens": 10,
                "reasoning_tokens": 800, "answer_tokens": 10, "latency_s": 2.0,
            }
        )  # fmt: skip
    result = analyze(records_frame(rows), n_boot=50)
    row = result.pareto.iloc[0]
    assert row["source"] == "records" and row["n"] == 8
    assert row["strategy"] == "self_consistency"
    assert row["label"] == "m forced:256 self_consistency@8"
    assert row["metric"] == pytest.approx(0.8)
    assert row["cost"] == pytest.approx(820.0)
