"""Pool estimators: what would k samples (plus a vote or a verifier) have scored?

From the N samples stored per (question, budget), for every k ≤ N:

``pass@k``
    the probability that at least one of k samples is right — the unbiased estimator
    ``1 − C(N−c, k)/C(N, k)`` (Chen et al. 2021). It is the k = 1..N expectation of the
    *best* value in a random k-subset, which is how we compute it (the same closed form,
    and for regression it becomes the expected smallest error). An oracle: not deployable.
``maj@k``
    majority vote over *normalised answers* (``2``, ``2.0`` and ``<answer>2</answer>`` are
    one vote), averaged over every k-subset. A tie between the top answers is broken at
    random, so it counts as the share of tied answers that are right — reported, with the
    tie rate, not hidden. Unparseable answers do not vote; a subset with no votes is wrong.
``best_of_k``
    the answer of the sample with the highest verifier score among k (ties at random).
    Closed form: the i-th best of N is chosen with probability C(N−1−i, k−1)/C(N, k).
``weighted@k``
    verifier-weighted vote: each answer's weight is the sum of its samples' verifier
    scores; highest weight wins (ties split as for ``maj@k``).

Exact whenever possible: closed forms for pass@k and best_of_k; the votes enumerate every
k-subset when there are at most :data:`MAX_ENUMERATION` of them and otherwise average
:data:`MC_SUBSETS` random k-subsets (``exact`` says which). Majority votes depend only on
a question's answer-count profile, so identical profiles are computed once.

Per-question estimates are averaged over questions with a question bootstrap CI. Each row
also carries the mean cost of the k samples on every cost axis (see ``cost.py``);
``best_of_k`` and ``weighted@k`` add what the LLM judge spent grading those k samples
(tokens and usd k times, latency once: the slowest of k parallel calls).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from overthink.analysis.cost import ModelShape, kinetics_parts
from overthink.analysis.curves import metric_names
from overthink.analysis.groups import Group
from overthink.analysis.stats import FloatArray, IntArray, interval, ratio
from overthink.tasks.extract import answer_key

__all__ = [
    "MAX_ENUMERATION",
    "MC_SUBSETS",
    "POOL_COLUMNS",
    "PoolCosts",
    "canonical_answers",
    "expected_best",
    "group_pools",
    "order_weights",
    "vote_expectation",
]

MAX_ENUMERATION = 5000
"""Enumerate every k-subset when there are at most this many."""
MC_SUBSETS = 2000
"""Random k-subsets averaged when enumeration is too large."""

POOL_COLUMNS = [
    "task", "model", "budget_mode", "budget_tokens", "knob", "level", "estimator", "k",
    "metric", "ci_low", "ci_high", "mean_cost", "cost_usd", "cost_latency", "cost_eflops",
    "n", "tie_rate", "exact", "metric_name", "higher_is_better",
]  # fmt: skip

# Column layout of the per-(question, cell, k) stats that are resampled.
_IND, _PASS, _MAJ, _IND_V, _BEST, _WEIGHTED = range(6)
_NCOL = 6


@dataclass(frozen=True)
class PoolCosts:
    """How to price one group's samples (None: that axis is unavailable)."""

    price: tuple[float, float] | None
    shape: ModelShape | None
    intensity: float


@cache
def order_weights(n: int, k_max: int) -> FloatArray:
    """``(n, k_max)``: P(the i-th best of n is the best of a random k-subset).

    ``C(n−1−i, k−1) / C(n, k)``; NaN columns for k > n. Exact integer binomials, then one
    division, so large n stays accurate.
    """
    out = np.full((n, k_max), np.nan)
    for k in range(1, min(n, k_max) + 1):
        total = math.comb(n, k)
        out[:, k - 1] = [math.comb(n - 1 - i, k - 1) / total for i in range(n)]
    return out


def expected_best(values_desc: FloatArray, k_max: int) -> FloatArray:
    """``(G, k_max)`` expected best value of a random k-subset of each row (NaN for k > n).

    Rows must be sorted best-first (descending for "higher is better").
    """
    weights = order_weights(values_desc.shape[1], k_max)
    out = values_desc @ np.nan_to_num(weights)
    out[:, np.isnan(weights[0])] = np.nan
    return np.asarray(out, dtype=float)


@cache
def _subsets(n: int, k: int) -> tuple[FloatArray, bool] | None:
    if math.comb(n, k) > MAX_ENUMERATION:
        return None
    combos = np.array(list(itertools.combinations(range(n), k)), dtype=np.int64)
    mat = np.zeros((len(combos), n))
    np.put_along_axis(mat, combos, 1.0, axis=1)
    return mat, True


def subsets(n: int, k: int, rng: np.random.Generator) -> tuple[FloatArray, bool]:
    """Every k-subset of ``range(n)`` as 0/1 rows, or :data:`MC_SUBSETS` random ones."""
    found = _subsets(n, k)
    if found is not None:
        return found
    picks = np.argsort(rng.random((MC_SUBSETS, n)), axis=1)[:, :k]
    mat = np.zeros((MC_SUBSETS, n))
    np.put_along_axis(mat, picks, 1.0, axis=1)
    return mat, False


def vote_expectation(
    ids: IntArray,
    weights: FloatArray,
    class_values: FloatArray,
    k_max: int,
    *,
    abstain_value: float,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray, list[bool]]:
    """Expected value of a (weighted) vote over random k-subsets, for k = 1..k_max.

    ``ids`` ``(P, n)``: each sample's answer class (−1 = no answer, does not vote);
    ``weights`` ``(P, n)``: its vote weight; ``class_values`` ``(P, m)``: the value of
    each class's answer. Returns the expected value and tie rate, both ``(P, k_max)``
    (NaN for k > n), and whether each k was exact.
    """
    p_rows, n = ids.shape
    exp = np.full((p_rows, k_max), np.nan)
    tie = np.full((p_rows, k_max), np.nan)
    exact = [True] * k_max
    # Rows are processed in blocks of equal class count: padding every question to the
    # largest class count would multiply the work by (max classes / actual classes).
    n_classes = (ids.max(axis=1) + 1) if n else np.zeros(p_rows, dtype=np.int64)
    for m in np.unique(n_classes):
        sel = n_classes == m
        e, t, ex = _vote_block(
            ids[sel], weights[sel], class_values[sel, : int(m)], k_max, abstain_value, rng
        )
        exp[sel], tie[sel] = e, t
        exact = [a and b for a, b in zip(exact, ex, strict=True)]
    return exp, tie, exact


def _vote_block(
    ids: IntArray,
    weights: FloatArray,
    class_values: FloatArray,
    k_max: int,
    abstain_value: float,
    rng: np.random.Generator,
) -> tuple[FloatArray, FloatArray, list[bool]]:
    p_rows, n = ids.shape
    m = class_values.shape[1]
    exp = np.full((p_rows, k_max), np.nan)
    tie = np.full((p_rows, k_max), np.nan)
    exact: list[bool] = []
    if m == 0:
        # Nobody answered: every subset abstains.
        exp[:, : min(n, k_max)] = abstain_value
        tie[:, : min(n, k_max)] = 0.0
        return exp, tie, [True] * k_max
    # Class-major (m·P, n) weights: one matrix product tallies every class of every
    # question in every subset, and the per-class slices of the result are contiguous,
    # so max/compare/sum over classes are cheap elementwise passes.
    member = ids[None, :, :] == np.arange(m)[:, None, None]
    onehot = (member * weights[None, :, :]).astype(np.float32)
    counts_of = member.astype(np.float32)
    cls_vals = class_values.T.astype(np.float32)  # (m, P)
    for k in range(1, k_max + 1):
        if k > n:
            exact.append(True)
            continue
        mat, is_exact = subsets(n, k, rng)
        exact.append(is_exact)
        mat_t = mat.T.astype(np.float32)
        n_sub = mat.shape[0]
        chunk = max(1, 4_000_000 // max(1, n_sub * m))
        for start in range(0, p_rows, chunk):
            stop = min(p_rows, start + chunk)
            rows = stop - start
            tallies = (onehot[:, start:stop].reshape(m * rows, n) @ mat_t).reshape(m, rows, n_sub)
            top = tallies.max(axis=0)
            # Float weights: sums within a relative 1e-6 count as tied (float32 tallies).
            cut = top - np.float32(1e-6) * np.maximum(np.float32(1.0), top)
            # float32 accumulators updated in place: this loop is the hot spot of pools.
            n_win = np.zeros((rows, n_sub), dtype=np.float32)
            won = np.zeros((rows, n_sub), dtype=np.float32)
            win = np.empty((rows, n_sub), dtype=bool)
            for c in range(m):
                np.greater_equal(tallies[c], cut, out=win)
                np.add(n_win, win, out=n_win)
                np.add(won, win * cls_vals[c, start:stop, None], out=won)
            # The top class always passes its own cut, so n_win >= 1.
            value = won / n_win
            tied = n_win > 1
            voted = top > 0
            if not voted.all():
                # No weight in the subset. If some samples answered (all weighing 0), the
                # strategies' tie rule takes the earliest answered sample, whose class is
                # drawn in proportion to its count; if none answered, the pool abstains.
                counts = (counts_of[:, start:stop].reshape(m * rows, n) @ mat_t).reshape(
                    m, rows, n_sub
                )
                answered = counts.sum(axis=0)
                share = (counts * cls_vals[:, start:stop, None]).sum(axis=0)
                fallback = np.where(
                    answered > 0, share / np.maximum(answered, 1), np.float32(abstain_value)
                )
                value = np.where(voted, value, fallback)
                tied = np.where(voted, tied, (counts > 0).sum(axis=0) > 1)
            # Abstentions valued NaN (error metrics: no prediction) are left out of the mean.
            valid = np.isfinite(value)
            n_valid = valid.sum(axis=1)
            total = np.where(valid, value, 0.0).sum(axis=1, dtype=np.float64)
            exp[start:stop, k - 1] = np.where(n_valid > 0, total / np.maximum(n_valid, 1), np.nan)
            tie[start:stop, k - 1] = tied.mean(axis=1, dtype=np.float64)
    return exp, tie, exact


def canonical_answers(answers: Any, kind: str) -> IntArray:
    """Integer codes of answers' vote classes (−1 = no vote); equal codes = same vote.

    The classes are :func:`~overthink.tasks.extract.answer_key`'s, the live strategies' own
    rule, so blank answers do not vote here either. Each *distinct* answer string is
    classed once, so a million records cost a few thousand calls.
    """
    codes, uniques = pd.factorize(pd.Series(answers, dtype=object))
    if len(uniques) == 0:
        return np.full(len(codes), -1, dtype=np.int64)
    keys = [answer_key(str(u), kind) for u in uniques]
    # Codes in the sorted order of the class keys, as before the rule was shared.
    number = {key: i for i, key in enumerate(sorted({k for k in keys if k is not None}))}
    remap = np.asarray([-1 if k is None else number[k] for k in keys], dtype=np.int64)
    return np.asarray(np.where(codes >= 0, remap[np.maximum(codes, 0)], -1), dtype=np.int64)


def _pad(
    values: FloatArray, grp: IntArray, pos: IntArray, sel: Any, n: int, fill: float
) -> FloatArray:
    """Rows of a (selected groups × n) matrix from records sorted by group."""
    local = np.full(len(sel), -1, dtype=np.int64)
    local_ids = np.flatnonzero(sel)
    local[local_ids] = np.arange(len(local_ids))
    rec = sel[grp]
    out = np.full((len(local_ids), n), fill)
    out[local[grp[rec]], pos[rec]] = values[rec]
    return out


def _tie_block_means(keys_desc: FloatArray, values: FloatArray) -> FloatArray:
    # Within runs of equal keys the pick is random, so each member is worth the run mean.
    rows, n = keys_desc.shape
    new_block = np.ones((rows, n), dtype=bool)
    new_block[:, 1:] = keys_desc[:, 1:] != keys_desc[:, :-1]
    block = np.cumsum(new_block, axis=1) - 1 + (np.arange(rows) * n)[:, None]
    sums = np.bincount(block.ravel(), weights=values.ravel(), minlength=rows * n)
    counts = np.bincount(block.ravel(), minlength=rows * n)
    return np.asarray((sums / np.maximum(counts, 1))[block], dtype=float)


@dataclass
class _Pools:
    """The (question, budget cell) groups of one (task, model): records sorted by group."""

    rec: IntArray
    """Group-array positions of the pooled records, sorted by group then sample index."""
    grp: IntArray
    """Group of each sorted record."""
    within: IntArray
    """Position of each sorted record within its group."""
    sizes: IntArray
    """N: usable samples per group."""
    first: IntArray
    """Group-array position of each group's first record."""
    cell: IntArray
    """Budget cell of each group."""
    cells: list[tuple[str, int]]
    """(budget mode, budget tokens) of each cell."""

    @property
    def n_groups(self) -> int:
        return len(self.sizes)

    @property
    def k_max(self) -> int:
        return int(self.sizes.max())

    def pad(self, values: FloatArray, sel: Any, n: int, fill: float) -> FloatArray:
        """(selected groups × n) matrix of a per-record array (groups of size n)."""
        return _pad(values, self.grp, self.within, sel, n, fill)

    def mean(self, values: FloatArray) -> FloatArray:
        """Per-group mean of a per-record array over its known (finite) entries."""
        known = np.isfinite(values)
        filled = np.where(known, values, 0.0)
        sums = np.bincount(self.grp, weights=filled, minlength=self.n_groups).astype(float)
        counts = np.bincount(self.grp, weights=known, minlength=self.n_groups).astype(float)
        return ratio(sums, counts)


def _pool_groups(group: Group) -> _Pools | None:
    a = group.arrays
    pos = np.flatnonzero(a["valid"])
    if pos.size == 0:
        return None
    # Hash-based codes (pd.factorize) throughout: np.unique would sort every record.
    mode_c, mode_u = pd.factorize(a["budget_mode"][pos], sort=True)
    bud_c, bud_u = pd.factorize(a["budget_tokens"][pos], sort=True)
    cell_c, cell_u = pd.factorize(mode_c.astype(np.int64) * len(bud_u) + bud_c, sort=True)
    cells = [(str(mode_u[c // len(bud_u)]), int(bud_u[c % len(bud_u)])) for c in cell_u]
    pg, pg_u = pd.factorize(a["question"][pos].astype(np.int64) * len(cells) + cell_c)
    order = np.lexsort((a["sample_index"][pos], pg))
    grp = pg[order]
    sizes = np.bincount(grp, minlength=len(pg_u))
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    return _Pools(
        rec=pos[order],
        grp=grp,
        within=np.arange(len(order)) - starts[grp],
        sizes=sizes,
        first=pos[order][starts],
        cell=cell_c[order][starts],
        cells=cells,
    )


def _majority(
    pools: _Pools, classes: tuple[IntArray, FloatArray, FloatArray, FloatArray],
    rng: np.random.Generator, abstain_value: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:  # fmt: skip
    """maj@k and its tie rate per group, computed once per distinct answer profile."""
    _, cls_counts, cls_values, abstain = classes
    k_max, n_cls = pools.k_max, cls_counts.shape[1]
    profiles = np.column_stack([pools.sizes, abstain, cls_counts, cls_values])
    prof_of, first_of_prof = row_codes(profiles)
    uniq = profiles[first_of_prof]
    maj = np.full((len(uniq), k_max), np.nan)
    tie = np.full((len(uniq), k_max), np.nan)
    exact = np.ones(k_max, dtype=bool)
    for n in np.unique(pools.sizes):
        sel = uniq[:, 0] == n
        counts = uniq[sel, 2 : 2 + n_cls]
        # Lay each profile out as n samples: class 0 count times, class 1 ..., then abstains.
        cum = np.cumsum(counts, axis=1)
        slot = np.arange(n)
        if n_cls:
            ids = (slot[None, None, :] >= cum[:, :, None]).sum(axis=1)
            ids = np.where(slot[None, :] < cum[:, -1:], ids, -1)
        else:
            ids = np.full((int(sel.sum()), n), -1)
        e, t, ex = vote_expectation(
            ids.astype(np.int64), np.ones(ids.shape), uniq[sel, 2 + n_cls :], k_max,
            abstain_value=abstain_value, rng=rng,
        )  # fmt: skip
        maj[sel], tie[sel] = e, t
        exact &= np.asarray(ex)
    return maj[prof_of], tie[prof_of], exact


def _costs(pools: _Pools, group: Group, costs: PoolCosts) -> dict[str, FloatArray]:
    """Mean cost of k samples per group on every axis (NaN where unavailable)."""
    a, rec, k_max = group.arrays, pools.rec, pools.k_max
    ks = np.arange(1, k_max + 1)[None, :]
    # Unknown counts (NaN) are left out of the means; where an order statistic needs one,
    # the group's mean stands in for it.
    prompt = a["prompt_tokens"][rec]
    lout = a["reasoning_tokens"][rec] + a["answer_tokens"][rec]
    lout_filled = np.where(np.isfinite(lout), lout, pools.mean(lout)[pools.grp])
    out = {
        "tokens": ks * pools.mean(prompt + lout)[:, None],
        "usd": np.full((pools.n_groups, k_max), np.nan),
        "latency": np.full((pools.n_groups, k_max), np.nan),
        "eflops": np.full((pools.n_groups, k_max), np.nan),
    }
    if costs.price is not None:
        usd = (prompt * costs.price[0] + lout * costs.price[1]) / 1e6
        out["usd"] = ks * pools.mean(usd)[:, None]
    own = shared = None
    if costs.shape is not None:
        own_r, shared_r = kinetics_parts(costs.shape, prompt, lout_filled, costs.intensity)
        own, shared = pools.mean(own_r), pools.mean(shared_r)
    for n in np.unique(pools.sizes):
        sel = pools.sizes == n
        # k samples run in parallel: wall time is the slowest of them.
        lat = pools.pad(np.nan_to_num(a["latency_s"][rec]), sel, int(n), 0.0)
        out["latency"][sel] = expected_best(-np.sort(-lat, axis=1), k_max)
        if own is not None and shared is not None:
            # The shared prompt is read once per step for as long as the longest sample.
            longest = pools.pad(lout_filled, sel, int(n), np.nan)
            longest = expected_best(-np.sort(-longest, axis=1), k_max)
            out["eflops"][sel] = ks * own[sel, None] + shared[sel, None] * longest
    # The judge grades every one of the k samples before best_of_k / weighted@k choose:
    # its tokens add k times, its time once (the k calls run in parallel: the slowest).
    v_in = a["verifier_prompt_tokens"][rec]
    v_out = a["verifier_completion_tokens"][rec]
    out["verifier_tokens"] = ks * pools.mean(v_in + v_out)[:, None]
    out["verifier_usd"] = (
        ks * pools.mean((v_in * costs.price[0] + v_out * costs.price[1]) / 1e6)[:, None]
        if costs.price is not None
        else np.zeros((pools.n_groups, k_max))
    )
    out["verifier_latency"] = np.zeros((pools.n_groups, k_max))
    for n in np.unique(pools.sizes):
        sel = pools.sizes == n
        lat = pools.pad(a["verifier_latency_s"][rec], sel, int(n), 0.0)
        out["verifier_latency"][sel] = expected_best(-np.sort(-lat, axis=1), k_max)
    has_k = np.arange(1, k_max + 1)[None, :] <= pools.sizes[:, None]
    for table in out.values():
        table[~has_k] = np.nan
    return out


def group_pools(
    group: Group, costs: PoolCosts, *, seed_rng: np.random.Generator
) -> list[dict[str, Any]]:
    """Pool rows (see ``POOL_COLUMNS``) for every budget cell and level of a group."""
    pools = _pool_groups(group)
    if pools is None:
        return []
    a, rec, grp, k_max = group.arrays, pools.rec, pools.grp, pools.k_max
    sign = 1.0 if group.higher_is_better else -1.0
    value = a["value"][rec]
    has_k = np.arange(1, k_max + 1)[None, :] <= pools.sizes[:, None]
    ver = a["verifier_score"][rec]
    has_ver = np.bincount(grp, weights=np.isfinite(ver), minlength=pools.n_groups) == pools.sizes
    est = np.full((pools.n_groups, k_max, _NCOL), np.nan)
    est[..., _IND] = has_k
    est[..., _IND_V] = has_k & has_ver[:, None]
    tie_w = np.full((pools.n_groups, k_max), np.nan)
    exact_w = np.ones(k_max, dtype=bool)

    answer = canonical_answers(a["answer"][rec], group.kind)
    classes = _answer_classes(grp, answer, value, pools.n_groups)
    # A pool with no answer at all scores as a wrong answer on accuracy; on an error metric
    # or a matching rate it has no answer to count, so it is left out (as unparsed records
    # are).
    abstain = 0.0 if group.family == "accuracy" else float("nan")
    est[..., _MAJ], tie_maj, exact_maj = _majority(pools, classes, seed_rng, abstain)
    for n in np.unique(pools.sizes):
        sel = pools.sizes == n
        oriented = pools.pad(sign * value, sel, int(n), np.nan)
        est[sel, :, _PASS] = sign * expected_best(-np.sort(-oriented, axis=1), k_max)
        vsel = sel & has_ver
        if not vsel.any():
            continue
        vmat = pools.pad(ver, vsel, int(n), np.nan)
        idx = np.argsort(-vmat, axis=1, kind="stable")
        ranked = np.take_along_axis(pools.pad(sign * value, vsel, int(n), np.nan), idx, axis=1)
        ranked = _tie_block_means(np.take_along_axis(vmat, idx, axis=1), ranked)
        est[vsel, :, _BEST] = sign * expected_best(ranked, k_max)
        ids = pools.pad(classes[0].astype(float), vsel, int(n), -1.0).astype(np.int64)
        e, t, ex = vote_expectation(
            ids, vmat, classes[2][vsel], k_max, abstain_value=abstain, rng=seed_rng
        )
        est[vsel, :, _WEIGHTED], tie_w[vsel] = e, t
        exact_w &= np.asarray(ex)
    exact = {"pass@k": np.ones(k_max, dtype=bool), "maj@k": exact_maj,
             "best_of_k": np.ones(k_max, dtype=bool), "weighted@k": exact_w}  # fmt: skip
    return _pool_rows(group, pools, est, _costs(pools, group, costs), tie_maj, tie_w, exact)


def _pool_rows(
    group: Group, pools: _Pools, est: FloatArray, cost: dict[str, FloatArray],
    tie_maj: FloatArray, tie_w: FloatArray, exact: dict[str, Any],
) -> list[dict[str, Any]]:  # fmt: skip
    """Average the per-group estimates over each level's questions, with bootstrap CIs."""
    a, k_max, n_cells = group.arrays, pools.k_max, len(pools.cells)
    stratum_of = a["stratum"][pools.first]
    qidx_of = a["qidx"][pools.first]
    filled = np.nan_to_num(est)

    def build(s: Any) -> FloatArray:
        sel = stratum_of == s.index
        out = np.zeros((s.n_questions, n_cells, k_max, _NCOL))
        out[qidx_of[sel], pools.cell[sel]] = filled[sel]  # one group per (question, cell)
        return out

    per_stratum = group.collect(build)
    metric_name = metric_names(group.family)[0]
    rows: list[dict[str, Any]] = []
    for level in group.levels:
        point, boot = Group.combine(per_stratum, level.strata)
        point = point.reshape(n_cells, k_max, _NCOL)
        boot = boot.reshape(-1, n_cells, k_max, _NCOL)
        in_level = np.isin(stratum_of, level.strata)
        n_items = group.n_items(level)
        hib = group.higher_is_better

        def means(table: FloatArray, in_level: Any = in_level) -> FloatArray:
            return _cell_means(table, in_level, pools.cell, n_cells)

        level_cost = {name: means(table) for name, table in cost.items()}
        judged = {
            axis: level_cost[axis] + level_cost[f"verifier_{axis}"]
            for axis in ("tokens", "usd", "latency")
        }
        ties = {"maj@k": means(tie_maj), "weighted@k": means(tie_w)}
        for name, col, ind in (
            ("pass@k", _PASS, _IND),
            ("maj@k", _MAJ, _IND),
            ("best_of_k", _BEST, _IND_V),
            ("weighted@k", _WEIGHTED, _IND_V),
        ):
            metric = ratio(point[..., col], point[..., ind])
            # Records behind each cell: its questions' N samples each.
            units = point[..., ind] * k_max
            low, high = interval(metric, ratio(boot[..., col], boot[..., ind]), n_items, hib, units)
            tie = ties.get(name)
            # Verifier-based estimators also pay for the judge (see _costs).
            paid = {**level_cost, **judged} if ind == _IND_V else level_cost
            for cell, (mode, budget) in enumerate(pools.cells):
                for k in range(k_max):
                    n_q = int(point[cell, k, ind])
                    if n_q == 0:
                        continue
                    rows.append(
                        {
                            "task": group.task, "model": group.model, "budget_mode": mode,
                            "budget_tokens": budget, "knob": level.knob, "level": level.level,
                            "estimator": name, "k": k + 1, "metric": float(metric[cell, k]),
                            "ci_low": float(low[cell, k]), "ci_high": float(high[cell, k]),
                            "mean_cost": float(paid["tokens"][cell, k]),
                            "cost_usd": float(paid["usd"][cell, k]),
                            "cost_latency": float(paid["latency"][cell, k]),
                            "cost_eflops": float(paid["eflops"][cell, k]),
                            "n": n_q,
                            "tie_rate": float(tie[cell, k]) if tie is not None else float("nan"),
                            "exact": bool(exact[name][k]), "metric_name": metric_name,
                            "higher_is_better": group.higher_is_better,
                        }
                    )  # fmt: skip
    return rows


def _cell_means(per_group: FloatArray, in_level: Any, g_cell: IntArray, n_cells: int) -> FloatArray:
    """Mean over a level's questions of a (groups × k) array, per cell (NaN ignored)."""
    vals = per_group[in_level]
    cells = g_cell[in_level]
    ok = np.isfinite(vals)
    onehot = np.zeros((n_cells, len(cells)))
    onehot[cells, np.arange(len(cells))] = 1.0
    sums = onehot @ np.where(ok, vals, 0.0)
    counts = onehot @ ok.astype(float)
    return ratio(sums, counts)


def row_codes(mat: FloatArray) -> tuple[IntArray, IntArray]:
    """Ids of identical rows and the first row of each id, by hashing column by column.

    ``np.unique(axis=0)`` sorts rows as byte strings; combining per-column hash codes in
    mixed radix (re-compressed before it could overflow) is linear and much faster.
    """
    codes = np.zeros(mat.shape[0], dtype=np.int64)
    n_ids = 1
    for col in mat.T:
        c, u = pd.factorize(col)
        if n_ids * max(len(u), 1) >= 2**62:
            codes, uniq = pd.factorize(codes)
            n_ids = len(uniq)
        codes = codes * max(len(u), 1) + c
        n_ids *= max(len(u), 1)
    ids, _ = pd.factorize(codes)
    first = np.full(int(ids.max()) + 1 if len(ids) else 0, -1, dtype=np.int64)
    first[ids[::-1]] = np.arange(len(ids))[::-1]
    return ids.astype(np.int64), first


def _answer_classes(
    grp: IntArray, answer: IntArray, value: FloatArray, n_groups: int
) -> tuple[IntArray, FloatArray, FloatArray, FloatArray]:
    """Per record its class position in its group (−1: no answer); per group the class
    counts and values (padded, ordered by count then value, descending) and the number
    of unanswered samples."""
    answered = answer >= 0
    n_codes = int(answer.max()) + 1 if answered.any() else 1
    key = grp[answered].astype(np.int64) * n_codes + answer[answered]
    cls_inv, cls_key = pd.factorize(key)
    cls_n = np.bincount(cls_inv, minlength=len(cls_key))
    cls_g = cls_key // n_codes
    cls_v = np.bincount(cls_inv, weights=value[answered], minlength=len(cls_key)) / cls_n
    order = np.lexsort((-cls_v, -cls_n, cls_g))
    g_sorted = cls_g[order]
    per_group = np.bincount(cls_g, minlength=n_groups)
    starts = np.r_[0, np.cumsum(per_group)[:-1]]
    slot_sorted = np.arange(len(order)) - starts[g_sorted]
    slot = np.empty(len(order), dtype=np.int64)
    slot[order] = slot_sorted
    m = int(per_group.max()) if len(per_group) else 0
    counts = np.zeros((n_groups, m))
    values = np.zeros((n_groups, m))
    counts[cls_g, slot] = cls_n
    values[cls_g, slot] = cls_v
    cls_of_rec = np.full(len(answer), -1, dtype=np.int64)
    cls_of_rec[answered] = slot[cls_inv]
    abstain = np.bincount(grp, weights=(~answered).astype(float), minlength=n_groups)
    return cls_of_rec, counts, values, np.asarray(abstain, dtype=float)
