"""Pareto fronts over configurations (model × budget × N × strategy): cost against metric.

A configuration is something one could deploy: a model, a budget, and either one sample
or N samples combined by majority vote, best-of-N with a verifier, or a verifier-weighted
vote. Their metrics come from the pool estimators (level ``all``); pass@k is an oracle and
is left out. Strategy-level records in the store (``strategy != "single"``) are
configurations too, priced from their own token counts.

A point is *dominated* when another costs no more and scores no worse, and is strictly
better on one of the two; the rest form the front. ``cheapest`` answers the user's
question directly: per task, the cheapest configuration whose metric reaches
``target_metric`` — or, without a target, reaches the best configuration's lower 95 %
bound (is statistically as good as the best).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import pandas as pd

from overthink.analysis.cost import (
    DEFAULT_INTENSITY,
    ModelShape,
    kinetics_parts,
    price_for,
    shape_for,
)
from overthink.analysis.frame import base_item_keys, family_of_kind
from overthink.analysis.groups import ALL
from overthink.analysis.polarity import group_polarity, higher_is_better
from overthink.analysis.stats import cluster_weights, interval, ratio, rng_for
from overthink.strategies.registry import strategies

__all__ = ["CHEAPEST_COLUMNS", "PARETO_COLUMNS", "cheapest", "mark_front", "pareto"]

PARETO_COLUMNS = [
    "label", "task", "model", "budget_mode", "budget_tokens", "n", "strategy", "cost_axis",
    "cost", "metric", "on_front", "dominated", "ci_low", "ci_high", "metric_name",
    "higher_is_better", "source", "cost_tokens", "cost_usd", "cost_latency", "cost_eflops",
]  # fmt: skip
CHEAPEST_COLUMNS = [*PARETO_COLUMNS, "threshold", "criterion"]

_LABEL = re.compile(r"^(?P<name>.+?)@(?P<n>\d+)$")
_COST_COLUMN = {
    "tokens": "cost_tokens",
    "usd": "cost_usd",
    "latency": "cost_latency",
    "eflops": "cost_eflops",
}


def _budget_label(mode: str, budget: int) -> str:
    return mode if mode in ("natural", "none") else f"{mode}:{budget}"


def _pool_configs(pools: pd.DataFrame) -> pd.DataFrame:
    # Pool estimators as the strategy names of ``overthink.strategies`` (majority@8 ...).
    strategy_of = {est: s.name for s in strategies() if (est := s.pool_estimator)}
    p = pools[(pools["level"] == ALL) & pools["estimator"].isin(list(strategy_of))]
    # k = 1 is the same single sample whatever the combiner: keep it once.
    p = p[(p["k"] > 1) | (p["estimator"] == "maj@k")]
    if p.empty:
        return pd.DataFrame(columns=PARETO_COLUMNS)
    strategy = np.where(p["k"] == 1, "single", p["estimator"].map(strategy_of))
    out = pd.DataFrame(
        {
            "task": p["task"], "model": p["model"], "budget_mode": p["budget_mode"],
            "budget_tokens": p["budget_tokens"], "n": p["k"], "strategy": strategy,
            "metric": p["metric"], "ci_low": p["ci_low"], "ci_high": p["ci_high"],
            "metric_name": p["metric_name"], "higher_is_better": p["higher_is_better"],
            "source": "pool", "cost_tokens": p["mean_cost"], "cost_usd": p["cost_usd"],
            "cost_latency": p["cost_latency"], "cost_eflops": p["cost_eflops"],
        }
    )  # fmt: skip
    return out.reset_index(drop=True)


def _split_strategy(label: str, meta_n: Any) -> tuple[str, int]:
    """``"majority@8"`` → ``("majority", 8)``; other labels keep their name, n from meta."""
    found = _LABEL.match(label)
    if found:
        return found["name"], int(found["n"])
    if meta_n is not None and np.isfinite(meta_n):
        return label, int(meta_n)
    return label, 1


def _strategy_configs(
    records: pd.DataFrame,
    *,
    prices: Mapping[str, float] | None,
    shapes: Mapping[str, ModelShape] | None,
    intensity: float,
    n_boot: int,
    seed: int,
) -> pd.DataFrame:
    """One configuration per (task, model, budget, strategy) of strategy-level records."""
    if records.empty:
        return pd.DataFrame(columns=PARETO_COLUMNS)
    n_col = next((c for c in ("meta.n", "meta.n_samples", "meta.samples") if c in records), None)
    rows = []
    keys = ["task", "model", "budget_mode", "budget_tokens", "strategy"]
    for (task, model, mode, budget, strategy), sub in records.groupby(keys, sort=True):
        ok = sub[sub["valid"]]
        if ok.empty:
            continue
        family = family_of_kind(str(ok["kind"].mode().iloc[0]))
        codes, uniq = pd.factorize(base_item_keys(ok))  # items resampled, as in curves
        v = ok["value"].to_numpy(dtype=float)
        sums = np.bincount(codes, weights=v, minlength=len(uniq))
        counts = np.bincount(codes, minlength=len(uniq)).astype(float)
        w = cluster_weights(
            len(uniq), n_boot, rng_for(seed, "strategy", task, model, mode, budget, strategy)
        )
        low, high = interval(
            [float(v.mean())], ratio(w @ sums, w @ counts)[:, None], len(uniq),
            family != "regression", len(v),
        )  # fmt: skip
        meta_n = pd.to_numeric(ok[n_col], errors="coerce").median() if n_col else None
        name, n = _split_strategy(str(strategy), meta_n)
        # Token counts of a strategy record are sums over its n members; -1 = unknown.
        tokens = [ok[c].to_numpy(dtype=float) for c in ("prompt_tokens", "reasoning_tokens",
                                                         "answer_tokens")]  # fmt: skip
        lin, lout = tokens[0], tokens[1] + tokens[2]
        lout = np.where((tokens[1] < 0) | (tokens[2] < 0), np.nan, lout)
        price = price_for(str(model), prices)
        shape = shape_for(str(model), shapes)
        eflops = float("nan")
        if shape is not None and np.isfinite(lout).any():
            # Members' own lengths are not stored: charge n members of the mean length.
            own, shared = kinetics_parts(shape, lin / n, lout / n, intensity)
            eflops = float(np.nanmean(n * own + shared * lout / n))
        usd = (lin * price[0] + lout * price[1]) / 1e6 if price else np.full(len(lin), np.nan)
        rows.append(
            {
                "task": task, "model": model, "budget_mode": mode,
                "budget_tokens": int(cast(int, budget)),
                "n": n, "strategy": name,
                "metric": float(v.mean()), "ci_low": float(low[0]), "ci_high": float(high[0]),
                "metric_name": "mae" if family == "regression" else family,
                "higher_is_better": higher_is_better(family, group_polarity(ok, slice(None))),
                "source": "records",
                "cost_tokens": _nanmean(lin + lout),
                "cost_usd": _nanmean(usd),
                "cost_latency": float(ok["latency_s"].mean()), "cost_eflops": eflops,
            }
        )  # fmt: skip
    return pd.DataFrame(
        rows,
        columns=[
            c
            for c in PARETO_COLUMNS
            if c not in ("label", "cost_axis", "cost", "on_front", "dominated")
        ],
    )


def _nanmean(values: Any) -> float:
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    return float(finite.mean()) if finite.size else float("nan")


def mark_front(cost: Any, metric: Any, higher_is_better: bool = True) -> tuple[Any, Any]:
    """(on_front, dominated) for points; points with a NaN cost or metric are neither."""
    c = np.asarray(cost, dtype=float)
    m = np.asarray(metric, dtype=float) * (1.0 if higher_is_better else -1.0)
    ok = np.isfinite(c) & np.isfinite(m)
    dominated = np.zeros(len(c), dtype=bool)
    idx = np.flatnonzero(ok)
    if idx.size:
        cc, mm = c[idx], m[idx]
        no_worse = (cc[None, :] <= cc[:, None]) & (mm[None, :] >= mm[:, None])
        strictly = (cc[None, :] < cc[:, None]) | (mm[None, :] > mm[:, None])
        dominated[idx] = (no_worse & strictly).any(axis=1)
    on_front = ok & ~dominated
    return on_front, dominated


def pareto(
    pools: pd.DataFrame,
    strategy_records: pd.DataFrame,
    *,
    cost: str,
    prices: Mapping[str, float] | None = None,
    shapes: Mapping[str, ModelShape] | None = None,
    intensity: float = DEFAULT_INTENSITY,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Every configuration with its costs, and the front per task on the ``cost`` axis."""
    parts = [
        _pool_configs(pools),
        _strategy_configs(
            strategy_records,
            prices=prices,
            shapes=shapes,
            intensity=intensity,
            n_boot=n_boot,
            seed=seed,
        ),
    ]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=PARETO_COLUMNS)
    df = pd.concat(parts, ignore_index=True)
    df["cost_axis"] = cost
    df["cost"] = df[_COST_COLUMN[cost]].astype(float)
    df["label"] = [
        f"{m} {_budget_label(str(mode), int(b))} {s}" + (f"@{int(n)}" if s != "single" else "")
        for m, mode, b, s, n in zip(
            df["model"],
            df["budget_mode"],
            df["budget_tokens"],
            df["strategy"],
            df["n"],
            strict=True,
        )
    ]
    df["on_front"] = False
    df["dominated"] = False
    for _, idx in df.groupby("task", sort=False).groups.items():
        sub = df.loc[idx]
        hib = bool(sub["higher_is_better"].iloc[0])
        front, dom = mark_front(sub["cost"], sub["metric"], hib)
        df.loc[idx, "on_front"] = front
        df.loc[idx, "dominated"] = dom
    df = df.sort_values(["task", "cost", "metric"], kind="stable").reset_index(drop=True)
    return df[PARETO_COLUMNS]


def cheapest(front: pd.DataFrame, target_metric: float | None = None) -> pd.DataFrame:
    """Per task, the cheapest configuration reaching the target (see module docstring)."""
    rows = []
    for task, sub in front.groupby("task", sort=True):
        sub = sub[np.isfinite(sub["cost"].astype(float)) & np.isfinite(sub["metric"].astype(float))]
        if sub.empty:
            continue
        hib = bool(sub["higher_is_better"].iloc[0])
        sign = 1.0 if hib else -1.0
        if target_metric is not None:
            threshold = float(target_metric)
            criterion = f"reaches target {threshold:g}"
        else:
            best = sub.iloc[int(np.argmax((sign * sub["metric"].astype(float)).to_numpy()))]
            bound = best["ci_low"] if hib else best["ci_high"]
            threshold = float(bound) if np.isfinite(bound) else float(best["metric"])
            criterion = f"within the 95% CI of the best ({best['label']}: {best['metric']:.4g})"
        ok = sub[sign * sub["metric"] >= sign * threshold - 1e-12]
        if ok.empty:
            continue
        pick = ok.sort_values(["cost", "metric"], ascending=[True, not hib], kind="stable").iloc[0]
        row = {c: pick[c] for c in PARETO_COLUMNS}
        row.update(threshold=threshold, criterion=criterion)
        rows.append(row)
        del task
    return pd.DataFrame(rows, columns=CHEAPEST_COLUMNS)
