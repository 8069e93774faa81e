"""Runner: execute a plan's unfinished trials concurrently and store each as it finishes.

Trials already in the store are skipped (successful ones; errored ones are retried and
replaced), so a run interrupted by Ctrl-C or kill -9 resumes without losing or repeating
finished work. A trial that fails after the engine's retries becomes a Record with
``error`` set instead of aborting the run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from overthink.core import BudgetMode, Record, Trial, exceeds_budget
from overthink.engines.base import Engine
from overthink.engines.retry import tally_retries
from overthink.engines.session import group_session, session_scope
from overthink.experiment.plan import Plan
from overthink.experiment.store import Store
from overthink.reasoning import Generation, ReasoningOptions, generate
from overthink.reasoning.forcing import ANSWER_CUE
from overthink.reasoning.sweep import can_share, forced_sweep
from overthink.strategies import ApplySummary

__all__ = ["RunStats", "execute_group", "execute_trial", "pending_trials", "run_plan"]


@dataclass
class RunStats:
    """What one ``run_plan`` call did."""

    planned: int = 0
    skipped: int = 0
    done: int = 0
    errors: int = 0
    generated_tokens: int = 0
    wall_s: float = 0.0
    prompt_tokens: int = 0
    """Prompt tokens sent to the engines during the run."""
    cached_prompt_tokens: int = 0
    """Of those, tokens the servers reported as served from their prompt cache."""
    post: ApplySummary | None = None
    """Verifiers and strategies applied after generation (None: none requested)."""

    @property
    def tokens_per_s(self) -> float:
        """Tokens the engines really generated per wall-clock second."""
        return self.generated_tokens / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cache_hit_rate(self) -> float | None:
        """Share of prompt tokens served from the prompt cache (None: nothing sent or the
        server reports no cache counters)."""
        if self.prompt_tokens <= 0 or self.cached_prompt_tokens <= 0:
            return None
        return self.cached_prompt_tokens / self.prompt_tokens


def _base_fields(trial: Trial, run: str) -> dict[str, Any]:
    sample = trial.sample
    return {
        "run": run,
        "trial_id": trial.trial_id,
        "task": sample.task,
        "sample_id": sample.id,
        "model": trial.model,
        "budget_mode": trial.budget.mode.value,
        "budget_tokens": trial.budget.tokens,
        "strategy": trial.strategy,
        "sample_index": trial.sample_index,
        "seed": trial.seed,
        "prompt": sample.prompt,
        "target": sample.target,
        "kind": sample.kind.value,
        "meta": dict(sample.meta),
    }


def error_record(
    trial: Trial,
    run: str,
    engine: Engine,
    exc: BaseException,
    latency_s: float,
    retries: int | None = None,
) -> Record:
    """The record of a trial that failed (after the engine's retries).

    ``retries``: every retry the trial's calls made (default: those of the failed call).
    """
    return Record(
        **_base_fields(trial, run),
        resolved={**engine.describe(), "budget": trial.budget.label},
        error=f"{type(exc).__name__}: {exc}",
        retries=int(getattr(exc, "retries", 0)) if retries is None else retries,
        latency_s=latency_s,
        created_at=time.time(),
    )


def scored_record(trial: Trial, run: str, gen: Generation, plan: Plan) -> Record:
    """Extract and score a generation, flagging truncation, empty answers and violations."""
    sample = trial.sample
    task = plan.task_for(trial)
    answer = task.extract(sample, gen.response)
    limit = gen.enforced_cap if gen.enforced_cap is not None else trial.budget.tokens
    return Record(
        **_base_fields(trial, run),
        resolved=gen.resolved,
        prompt_tokens=gen.prompt_tokens,
        reasoning_tokens=gen.reasoning_tokens,
        answer_tokens=gen.answer_tokens,
        reasoning=gen.reasoning,
        response=gen.response,
        answer=answer,
        score=task.score(sample, answer),
        finish_reason=gen.finish_reason,
        truncated_in_reasoning=gen.truncated_in_reasoning,
        empty_answer=not gen.response.removeprefix(ANSWER_CUE).strip(),
        budget_violation=exceeds_budget(gen.reasoning_tokens, limit),
        latency_s=gen.latency_s,
        retries=gen.retries,
        created_at=time.time(),
    )


async def execute_trial(
    engine: Engine,
    trial: Trial,
    plan: Plan,
    run: str,
    options: ReasoningOptions | None = None,
) -> Record:
    """Run one trial end to end and build its Record (errors become records)."""
    started = time.perf_counter()
    with tally_retries() as tally:
        try:
            gen = await generate(engine, trial, options)
        except Exception as exc:  # any failure of one trial is data, not a crash
            # The tally counts the retries of the calls that succeeded before this one too.
            retries = max(tally.count, int(getattr(exc, "retries", 0)))
            return error_record(trial, run, engine, exc, time.perf_counter() - started, retries)
    return _flag_repaired(scored_record(trial, run, gen, plan), tally.repaired)


def _flag_repaired(record: Record, repaired: int) -> Record:
    """Flag a record whose server text was repaired on the way in (engines' clean_text)."""
    if repaired:
        record.text_repaired = True
    return record


async def execute_group(
    engine: Engine,
    trials: list[Trial],
    plan: Plan,
    run: str,
    *,
    prefix_sharing: bool,
    options: ReasoningOptions | None = None,
) -> list[Record]:
    """Run trials that share a question (largest budget first, so caches are reused).

    Plain forced caps share one thinking trace when ``prefix_sharing`` is on. Every call
    carries the group's ``X-Session-ID`` so affinity routers keep it on one replica.
    """
    first = trials[0].sample
    with session_scope(group_session(run, first.task, first.id)):
        return await _execute_group(
            engine, trials, plan, run, prefix_sharing=prefix_sharing, options=options
        )


async def _execute_group(
    engine: Engine,
    trials: list[Trial],
    plan: Plan,
    run: str,
    *,
    prefix_sharing: bool,
    options: ReasoningOptions | None,
) -> list[Record]:
    shared = [t for t in trials if t.budget.mode is BudgetMode.FORCED]
    if prefix_sharing and can_share(shared):
        started = time.perf_counter()
        with tally_retries() as tally:
            try:
                gens = await forced_sweep(engine, shared)
            except Exception as exc:
                failure: Exception | None = exc
            else:
                failure = None
        if failure is None:
            _charge_shared_retries(gens, tally.count)
            records = [
                _flag_repaired(scored_record(t, run, g, plan), tally.repaired)
                for t, g in zip(shared, gens, strict=True)
            ]
        elif getattr(failure, "transport", False) or len(shared) == 1:
            # Unreachable or hung server: every other call would fail the same way.
            elapsed = time.perf_counter() - started
            records = [error_record(shared[0], run, engine, failure, elapsed, tally.count)]
            records += [error_record(t, run, engine, failure, elapsed, 0) for t in shared[1:]]
        else:
            # One call of the shared sweep failed for good (e.g. a body that stayed bad
            # through every retry): run the trials one by one, so only those whose own
            # calls fail become errors. The sweep's retries are charged to the first
            # record, so the records' retries add up to the retries made.
            records = [await execute_trial(engine, t, plan, run, options) for t in shared]
            records[0].retries += tally.count
        rest = [t for t in trials if t not in shared]
    else:
        records, rest = [], trials
    for trial in rest:
        records.append(await execute_trial(engine, trial, plan, run, options))
    return records


def _charge_shared_retries(gens: list[Generation], total: int) -> None:
    """Make the generations' retries add up to ``total``, the retries really made.

    Each generation of a shared sweep reports the retries of the shared calls (template,
    thinking trace) plus those of its own answer, so summing records would count the
    shared ones once per trial. The shared part is the excess over the tally divided
    among the other trials; it stays on the first generation only.
    """
    reported = sum(g.retries for g in gens)
    if len(gens) < 2 or reported <= total:
        return
    shared = (reported - total) // (len(gens) - 1)
    for gen in gens[1:]:
        gen.retries = max(0, gen.retries - shared)


def pending_trials(plan: Plan, store: Store) -> list[Trial]:
    """Trials without a successful stored record, in plan order."""
    done = store.successful_trial_ids()
    return [t for t in plan.trials if t.trial_id not in done]


async def run_plan(
    plan: Plan,
    engines: dict[str, Engine],
    store: Store,
    run: str,
    *,
    on_record: Callable[[Record], None] | None = None,
    prefix_sharing: bool = True,
    options: ReasoningOptions | None = None,
) -> RunStats:
    """Run every pending trial of ``plan``; each record is committed as it finishes.

    Trials of one question (same sample, model and sample index) form a group; twice as
    many groups as there are server slots are in progress at once, so a freed slot always
    has a request waiting. The engines hand slots out longest-prefix-first
    (``engines.slots``): a question's forced answers, whose prefix is cached, go before new
    questions' traces, and a shared sweep answers each cut while its trace goes on.
    """
    todo = pending_trials(plan, store)
    stats = RunStats(planned=len(plan.trials), skipped=len(plan.trials) - len(todo))
    groups: dict[tuple[str, str, str, int], list[Trial]] = {}
    for trial in todo:
        key = (trial.sample.task, trial.sample.id, trial.model, trial.sample_index)
        groups.setdefault(key, []).append(trial)
    queue: asyncio.Queue[list[Trial]] = asyncio.Queue()
    for group in groups.values():
        queue.put_nowait(group)
    generated_before = sum(e.generated_tokens for e in engines.values())
    prompt_before = sum(e.prompt_tokens_seen for e in engines.values())
    cached_before = sum(e.prompt_tokens_cached for e in engines.values())
    started = time.perf_counter()

    async def worker() -> None:
        while True:
            try:
                group = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            engine = engines[group[0].model]
            records = await execute_group(
                engine, group, plan, run, prefix_sharing=prefix_sharing, options=options
            )
            for record in records:
                # sqlite writes are fast and synchronous: doing them on the loop keeps one
                # writer and one transaction per finished trial.
                store.put(record)
                stats.done += 1
                stats.errors += record.error is not None
                if on_record is not None:
                    on_record(record)

    # Twice the slots in groups: requests wait in the engines' priority queues rather than
    # slots waiting for a worker to finish its bookkeeping. Engines cap calls in flight.
    n_workers = 2 * max(1, sum(e.concurrency for e in engines.values()))
    try:
        await asyncio.gather(*(worker() for _ in range(n_workers)))
    finally:
        stats.wall_s = time.perf_counter() - started
        stats.generated_tokens = (
            sum(e.generated_tokens for e in engines.values()) - generated_before
        )
        stats.prompt_tokens = sum(e.prompt_tokens_seen for e in engines.values()) - prompt_before
        stats.cached_prompt_tokens = (
            sum(e.prompt_tokens_cached for e in engines.values()) - cached_before
        )
    return stats
