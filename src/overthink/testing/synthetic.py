"""Synthetic records with planted effects, for tests, benchmarks and sanity checks.

Builds a frame in the :func:`~overthink.analysis.frame.records_frame` layout directly with
numpy (a million rows in about a second), from a model where the truth is known:

    p(correct) = clip(base + u_q + (slope + interaction·level)·(log2 t − c)
                      − curvature·(log2 t − log2 peak)², 0, 1)

with ``u_q`` a per-question offset (uniform on ±``question_spread``: questions differ in
difficulty, and their k samples share it — the clustering the analysis must respect),
``t`` the reasoning tokens actually spent and ``c`` the mean log2 budget. For forced
budgets ``t`` is the budget times U(0.85, 1); for a natural run ``t`` is log-normal around
a per-question length, and the effect applies to the deviation from that question's own
mean length (within-question overthinking). ``slope`` is therefore the true change in
accuracy per doubling of reasoning, on the accuracy scale (when nothing is clipped).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from overthink.analysis.frame import RECORD_COLUMNS, prepare

__all__ = ["synthetic_frame"]

_WRONG = np.array(["1", "3", "4", "5"], dtype=object)


def synthetic_frame(
    *,
    tasks: Sequence[str] = ("synthetic",),
    models: Sequence[str] = ("synthetic-model",),
    budgets: Sequence[int] = (256, 512, 1024, 2048, 4096),
    mode: str = "forced",
    natural: bool = False,
    knob: str = "distractors",
    levels: Sequence[int] = (0,),
    n_questions: int = 50,
    n_samples: int = 4,
    base: float = 0.7,
    slope: float = 0.0,
    interaction: float = 0.0,
    curvature: float = 0.0,
    peak: float = 1024.0,
    question_spread: float = 0.2,
    length_confound: float = 0.0,
    regression: bool = False,
    parse_failure_rate: float = 0.0,
    verifier: bool = False,
    prompt_tokens: int = 120,
    seed: int = 0,
) -> pd.DataFrame:
    """A records frame with a planted budget effect (see the module docstring).

    ``natural=True`` adds a natural-budget run (``budget_tokens=-1``) next to the budgeted
    ones; pass ``budgets=()`` for a natural-only run. Wrong answers are drawn from four
    distinct numbers so votes can split; ``verifier=True`` attaches a noisy verifier score
    that is higher, on average, for correct answers. ``length_confound`` makes questions
    that naturally think longer harder (per doubling of their typical length) without any
    within-question effect — the trap a between-question length analysis falls into.

    ``regression=True`` makes a regression task instead: the score is an absolute error
    ``|base + u_q + slope·(log2 t − c) + N(0, 0.3)|`` (so a positive slope is inverse
    scaling: error grows with thinking).
    """
    rng = np.random.default_rng(seed)
    cells: list[tuple[str, int]] = [(mode, int(b)) for b in budgets]
    if natural:
        cells.append(("natural", -1))
    n_t, n_m, n_c, n_l = len(tasks), len(models), len(cells), len(levels)
    shape = (n_t, n_m, n_c, n_l, n_questions, n_samples)
    t_i, m_i, c_i, l_i, q_i, s_i = (a.ravel() for a in np.indices(shape))
    size = t_i.size
    cell_budget = np.array([b for _, b in cells], dtype=np.int64)
    cell_mode = np.array([m for m, _ in cells], dtype=object)
    level_v = np.asarray(levels, dtype=float)
    budget = cell_budget[c_i] if n_c else np.zeros(size, dtype=np.int64)
    is_natural = budget < 0

    # Question offsets are shared by every budget, sample (and model) of a question.
    u = rng.uniform(-question_spread, question_spread, size=(n_t, n_l, n_questions))[t_i, l_i, q_i]
    q_len = rng.lognormal(np.log(800.0), 0.5, size=(n_t, n_l, n_questions))[t_i, l_i, q_i]
    tokens = np.where(
        is_natural,
        q_len * rng.lognormal(0.0, 0.35, size=size),
        np.maximum(budget, 0) * rng.uniform(0.85, 1.0, size=size),
    ).round()
    centre = float(np.mean(np.log2([b for b in budgets if b > 0]))) if budgets else np.log2(800.0)
    lt = np.log2(np.maximum(tokens, 1.0))
    dev = np.where(is_natural, lt - np.log2(q_len), lt - centre)
    level = level_v[l_i]
    confound = length_confound * (np.log2(q_len) - np.log2(800.0))
    p = base + u + (slope + interaction * level) * dev - curvature * (lt - np.log2(peak)) ** 2
    p = p - confound
    unparsed = rng.random(size) < parse_failure_rate
    if regression:
        error = p + rng.normal(0.0, 0.3, size=size)
        correct = np.zeros(size, dtype=bool)
        answer = np.char.mod("%.3f", 10.0 + error).astype(object)
        answer[unparsed] = None
        score = np.where(unparsed, np.nan, np.abs(error))
    else:
        correct = rng.random(size) < np.clip(p, 0.0, 1.0)
        answer = np.where(correct, "2", _WRONG[rng.integers(0, len(_WRONG), size)]).astype(object)
        answer[unparsed] = None
        score = (correct & ~unparsed).astype(float)
    task_names = np.asarray(tasks, dtype=object)
    sample_id = pd.Series(q_i).astype(str).radd("q") + pd.Series(level.astype(int)).astype(
        str
    ).radd("-d")
    data: dict[str, object] = {
        "run": "synthetic",
        "trial_id": pd.RangeIndex(size).astype(str),
        "task": task_names[t_i],
        "sample_id": sample_id.to_numpy(),
        "model": np.asarray(models, dtype=object)[m_i],
        "budget_mode": cell_mode[c_i] if n_c else "forced",
        "budget_tokens": budget,
        "resolved": "{}",
        "strategy": "single",
        "sample_index": s_i,
        "seed": 0,
        "prompt": "",
        "prompt_tokens": prompt_tokens,
        "reasoning_tokens": tokens.astype(np.int64),
        "answer_tokens": 8,
        "reasoning": "",
        "response": "",
        "answer": answer,
        "target": "10" if regression else "2",
        "kind": "regression" if regression else "numeric",
        "score": score,
        "finish_reason": "stop",
        "truncated_in_reasoning": (~is_natural) & (tokens >= budget * 0.99),
        "empty_answer": unparsed,
        "budget_violation": False,
        "text_repaired": False,
        "latency_s": 0.5 + tokens / 400.0 * rng.uniform(0.9, 1.1, size=size),
        "retries": 0,
        "error": None,
        "verifier": "synthetic" if verifier else None,
        "verifier_score": (
            np.clip(0.45 + 0.2 * correct + rng.normal(0.0, 0.15, size), 0.0, 1.0)
            if verifier
            else np.nan
        ),
        "created_at": 0.0,
    }
    df = pd.DataFrame({c: data[c] for c in RECORD_COLUMNS if c != "meta"})
    df[f"meta.{knob}"] = level.astype(np.int64)
    df["meta.question"] = q_i
    return prepare(df)
