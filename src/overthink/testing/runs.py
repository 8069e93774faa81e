"""Run an experiment on engine objects you built (a :class:`FakeEngine`), in one call."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overthink.core import Record
from overthink.engines.base import Engine

if TYPE_CHECKING:
    from overthink.experiment.config import ExperimentConfig
    from overthink.experiment.runner import RunStats

__all__ = ["FakeRun", "run_experiment"]


@dataclass
class FakeRun:
    """What :func:`run_experiment` did: the run folder, its counters and its records."""

    run_dir: Path
    stats: RunStats
    records: list[Record]
    """Every record in the run's store (trials, then strategy records if any)."""


def run_experiment(
    config: ExperimentConfig | Mapping[str, Any],
    engines: Engine | Mapping[str, Engine],
) -> FakeRun:
    """Run ``config`` with ``engines`` in place of its models; returns the stored records.

    ``config`` is an :class:`~overthink.experiment.config.ExperimentConfig` or the same
    keys as a mapping (as in a YAML config: ``{"tasks": ["my_task"], "budgets":
    "forced:8,forced:64", "out": str(tmp_path)}``). ``engines`` is one engine for every
    model (a mapping without ``models`` runs that engine under its own name) or a
    ``model name -> engine`` mapping. Everything else is the real pipeline: validation,
    the plan, budget enforcement, extraction, scoring, the store, verifiers and
    strategies. Not for use inside a running event loop (it calls ``asyncio.run``).
    """
    from overthink.experiment.config import ExperimentConfig, load_config
    from overthink.experiment.session import execute, prepare_run
    from overthink.experiment.store import Store

    if not isinstance(config, ExperimentConfig):
        data = dict(config)
        if isinstance(engines, Engine) and "models" not in data:
            data["models"] = [engines.name]
        config = load_config(None, data)
    if isinstance(engines, Engine):
        engines = {model: engines for model in config.models}
    given = dict(engines)

    async def go() -> tuple[Path, RunStats]:
        prepared = await prepare_run(config, given_engines=given)
        return prepared.run_dir, await execute(prepared)

    run_dir, stats = asyncio.run(go())
    with Store.of_run(run_dir) as store:
        records = list(store.records())
    return FakeRun(run_dir, stats, records)
