"""One experiment from config to stored records: validate, start engines, run, summarise.

Everything that can fail on bad input (tasks, knobs, budgets, model names, an unreachable
server, a budget mode an engine cannot enforce) fails *before* the run folder is created.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from overthink._version import __version__
from overthink.core import Record
from overthink.engines import Engine, EngineOptions, make_engine, validate_model_name
from overthink.engines.pinning import placement_of
from overthink.engines.registry import DEFAULT_CONCURRENCY
from overthink.errors import ConfigError
from overthink.experiment.config import ExperimentConfig
from overthink.experiment.execution import LocalExecutor, RunExecutor, RunJob
from overthink.experiment.lock import RunLock
from overthink.experiment.plan import Plan, make_plan
from overthink.experiment.runner import RunStats
from overthink.experiment.store import STORE_FILE, Store
from overthink.experiment.validate import check_config, check_plan_size, check_run_dir
from overthink.reasoning import ReasoningOptions, check_supported
from overthink.strategies import ApplySummary, apply_to_store, make_verifiers, verifier_class
from overthink.tasks.registry import file_task_sources

__all__ = ["PreparedRun", "execute", "placements", "postprocess", "prepare_run"]


@dataclass
class PreparedRun:
    """A validated experiment with its engines started, ready to write its folder."""

    config: ExperimentConfig
    plan: Plan
    engines: dict[str, Engine]
    run_dir: Path
    name: str
    judge_engine: Engine | None = None
    """The judge verifier's engine (one of ``engines`` when it is the same model)."""
    lock: RunLock | None = None
    """The run folder's lock: taken before the engines start when the folder exists,
    else right after ``execute`` creates it; released when ``execute`` ends."""


def placements(engines: Mapping[str, Engine]) -> dict[str, dict[str, Any]]:
    """Each slot-naming engine's placement (``engines.pinning``), by model."""
    return {m: p for m, e in engines.items() if (p := placement_of(e)) is not None}


def engine_options(config: ExperimentConfig) -> EngineOptions:
    """Engine settings from a config."""
    return EngineOptions(
        base_url=next(iter(config.base_urls()), None),
        base_urls=tuple(config.base_urls()),
        concurrency=config.concurrency,
        deterministic=config.deterministic,
        max_retries=config.max_retries,
        connect_timeout_s=config.connect_timeout_s,
        read_timeout_s=config.read_timeout_s,
        native_style=config.native_style,
        effort_edges=tuple(config.effort_edges),
        effort_levels=tuple(config.effort_levels),
        think_open=config.think_open,
        think_close=config.think_close,
        pin_slots=config.pin_slots,
    )


def reasoning_options(config: ExperimentConfig) -> ReasoningOptions:
    """Budget-layer settings from a config (how prompt budgets are stated)."""
    return ReasoningOptions(config.prompt_variant, config.prompt_template)


async def prepare_run(
    config: ExperimentConfig,
    *,
    wait: bool = False,
    given_engines: Mapping[str, Engine] | None = None,
) -> PreparedRun:
    """Validate everything and start the engines; writes nothing to disk but the lock.

    ``wait``: when another run holds the folder, wait for it instead of failing.
    ``given_engines``: engine objects to use for these model names instead of building
    them (e.g. ``overthink.testing.FakeEngine`` in tests).
    """
    given = dict(given_engines or {})
    check_config(config)
    run_dir = config.run_dir()
    check_run_dir(run_dir)
    check_plan_size(config)
    plan = make_plan(config)
    lock = RunLock(run_dir, wait=wait)
    if run_dir.is_dir():
        # Fail (or wait) before any engine starts when another run holds the folder.
        lock.acquire()
    options = engine_options(config)
    for model in (m for m in config.models if m not in given):
        validate_model_name(model, options)
    use_judge = any(verifier_class(v).needs_engine for v in config.verifiers)
    if use_judge:
        for judge_model in {config.judge_model} - given.keys():
            validate_model_name(judge_model, options)
    engines: dict[str, Engine] = {}
    judge: Engine | None = None
    try:
        for model in config.models:
            engine = given[model] if model in given else make_engine(model, options)
            engines[model] = engine
            for budget in plan.budgets:
                # The whole budget, so provider limits (e.g. Anthropic's 1024-token
                # minimum) fail here — before any request, the health check included.
                check_supported(engine, budget)
            await engine.check()
        if use_judge:
            judge = (
                engines.get(config.judge_model)
                or given.get(config.judge_model)
                or make_engine(config.judge_model, options)
            )
            await judge.check()
    except BaseException:
        lock.release()
        extra = [judge] if judge is not None and judge not in engines.values() else []
        await asyncio.gather(*(e.aclose() for e in [*engines.values(), *extra]))
        raise
    return PreparedRun(
        config, plan, engines, run_dir, config.run_name(), judge_engine=judge, lock=lock
    )


async def postprocess(prepared: PreparedRun, store: Store) -> ApplySummary | None:
    """Verify the run's samples and write its strategy records (None: nothing to do).

    Runs after generation on the run's own trials only; resumable and idempotent, since
    stored verifier scores are reused and strategy records overwritten in place.
    """
    config = prepared.config
    strategies = config.resolved_strategies()
    if not config.verifiers and not strategies:
        return None
    verifiers = make_verifiers(
        config.verifiers,
        judge_engine=prepared.judge_engine,
        judge_max_tokens=config.judge_max_tokens,
    )
    manifest = store.get_meta("manifest") or {}
    manifest["verifiers"] = [v.describe() for v in verifiers]
    manifest["strategies"] = strategies
    store.set_meta("manifest", manifest)
    return await apply_to_store(
        store,
        verifiers=verifiers,
        strategies=strategies,
        trial_ids={t.trial_id for t in prepared.plan.trials},
        n=config.samples_per_question,
        concurrency=config.concurrency or DEFAULT_CONCURRENCY,
    )


async def execute(
    prepared: PreparedRun,
    *,
    on_record: Callable[[Record], None] | None = None,
    executor: RunExecutor | None = None,
    notify: Callable[[str], None] | None = None,
) -> RunStats:
    """Create/reopen the run folder and run every pending trial.

    ``executor`` decides where trials run (default: the local asyncio runner); this
    process stays the only writer to the store whichever it is.
    """
    executor = executor if executor is not None else LocalExecutor()
    run_dir = prepared.run_dir
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        await _close_engines(prepared)
        raise ConfigError(
            f"run folder {str(run_dir)!r} cannot be created: {exc.strerror}"
        ) from None
    lock = prepared.lock or RunLock(run_dir)
    try:
        lock.acquire()
    except BaseException:
        await _close_engines(prepared)
        raise
    try:
        return await _execute_locked(prepared, on_record, executor, notify)
    finally:
        lock.release()


async def _close_engines(prepared: PreparedRun) -> None:
    judge = prepared.judge_engine
    extra = [judge] if judge is not None and judge not in prepared.engines.values() else []
    await asyncio.gather(*(e.aclose() for e in [*prepared.engines.values(), *extra]))


async def _execute_locked(
    prepared: PreparedRun,
    on_record: Callable[[Record], None] | None,
    executor: RunExecutor,
    notify: Callable[[str], None] | None,
) -> RunStats:
    run_dir = prepared.run_dir
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump(prepared.config.model_dump(mode="json"), sort_keys=False)
    )
    with Store(run_dir / STORE_FILE) as store:
        manifest = store.get_meta("manifest") or {}
        manifest.update(
            {
                "name": prepared.name,
                "tool_version": __version__,
                "models": list(prepared.engines),
                "engines": {m: e.describe() for m, e in prepared.engines.items()},
                # How many requests each engine keeps in flight, and who said so.
                "engine_concurrency": {
                    m: {
                        "requests_in_flight": e.concurrency,
                        "from": e.concurrency_from,
                    }
                    for m, e in prepared.engines.items()
                },
                "engine_startup_s": {
                    m: round(startup, 3)
                    for m, e in prepared.engines.items()
                    if (startup := e.startup_s) is not None
                },
                "tasks": [t.name for t in prepared.config.tasks],
                # Tasks from the user's own files, by absolute path: `overthink verify`
                # loads them again for their rubric (tasks.registry.reload_file_tasks).
                "task_files": file_task_sources(t.sample.task for t in prepared.plan.trials),
                "budgets": [b.label for b in prepared.plan.budgets],
                "trials": len(prepared.plan.trials),
                "config": prepared.config.model_dump(mode="json"),
            }
        )
        manifest.setdefault("started_at", time.time())
        store.set_meta("manifest", manifest)
        try:
            job = RunJob(
                plan=prepared.plan,
                engines=prepared.engines,
                store=store,
                run=prepared.name,
                run_dir=run_dir,
                prefix_sharing=prepared.config.prefix_sharing,
                options=reasoning_options(prepared.config),
                on_record=on_record,
                notify=notify,
            )
            try:
                stats = await executor.run(job)
            finally:
                # Where the trials ran: the manifest's business, never a record's.
                placed = store.get_meta("manifest") or {}
                placed["executor"] = executor.describe()
                store.set_meta("manifest", placed)
            stats.post = await postprocess(prepared, store)
        finally:
            await _close_engines(prepared)
        # Re-read: postprocess recorded its verifier settings in the stored manifest.
        manifest = store.get_meta("manifest") or manifest
        manifest["finished_at"] = time.time()
        manifest["wall_s"] = float(manifest.get("wall_s", 0.0)) + stats.wall_s
        manifest["generated_tokens"] = (
            int(manifest.get("generated_tokens", 0)) + stats.generated_tokens
        )
        if isinstance(executor, LocalExecutor):
            # Whether requests named server slots, and why not (engines.pinning). Other
            # executors build their own engines elsewhere: these sent no completion.
            manifest["placement"] = placements(prepared.engines)
        # The prompt cache's hit rate of this invocation (a resumed run records its last).
        manifest["prompt_cache"] = {
            "prompt_tokens": stats.prompt_tokens,
            "cached_tokens": stats.cached_prompt_tokens,
            "hit_rate": stats.cache_hit_rate,
        }
        store.set_meta("manifest", manifest)
    return stats
