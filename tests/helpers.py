"""Test helpers: run experiments in-process against the shared embedded server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from overthink.core import Record
from overthink.experiment.config import ExperimentConfig, load_config
from overthink.experiment.runner import RunStats
from overthink.experiment.session import execute, prepare_run
from overthink.experiment.store import Store


def run_experiment(out: Path, **overrides: Any) -> tuple[ExperimentConfig, RunStats, list[Record]]:
    """Run a config (no report) and return it with its stats and stored records."""
    cfg = load_config(None, {"out": str(out), "report": False, **overrides})

    async def go() -> RunStats:
        return await execute(await prepare_run(cfg))

    stats = asyncio.run(go())
    with Store.of_run(out) as store:
        records = list(store.records())
    return cfg, stats, records


def by_trial(records: list[Record]) -> dict[str, Record]:
    """Records keyed by trial id."""
    return {r.trial_id: r for r in records}
