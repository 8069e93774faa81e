"""Executors: where a plan's pending trials run. The local asyncio runner is the default.

An executor gets a ``RunJob`` (the plan, the started engines, the open store...) and
returns ``RunStats``. Whatever it is, the process that called it stays the only writer to
the store, and it writes through ``Store.put`` one finished trial at a time, so resume,
``kill -9`` and duplicate handling are the same for every executor. Other executors (Ray,
provider batch APIs) live in ``overthink.executors``; this module holds the contract and
the default.

Where a trial ran is recorded in the run manifest (``executor``), never in a record or a
trial's hash: records of the same trial are the same whichever executor ran it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from overthink.core import Record, Trial
from overthink.engines.base import Engine
from overthink.engines.session import group_session
from overthink.experiment.plan import Plan
from overthink.experiment.runner import RunStats, run_plan
from overthink.experiment.store import Store
from overthink.reasoning import ReasoningOptions

__all__ = [
    "EXECUTORS",
    "LocalExecutor",
    "RunExecutor",
    "RunJob",
    "WorkerRow",
    "group_key",
    "session_id",
]

EXECUTORS = ("local", "ray", "batch")
"""Executor names accepted by ``--executor`` (``ray`` needs the ``overthink[ray]`` extra)."""


@dataclass
class RunJob:
    """Everything an executor needs to run a plan's pending trials."""

    plan: Plan
    engines: dict[str, Engine]
    store: Store
    run: str
    run_dir: Path
    prefix_sharing: bool = True
    options: ReasoningOptions | None = None
    on_record: Callable[[Record], None] | None = None
    notify: Callable[[str], None] | None = None
    """Called with one line for things the user should see now (a worker restarted, an
    endpoint went down, a batch was submitted)."""


@dataclass
class WorkerRow:
    """One progress row: a worker (Ray actor, endpoint, batch) and what it has done."""

    name: str
    trials: int = 0
    errors: int = 0
    generated_tokens: int = 0
    inflight: int = 0
    status: str = "up"
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The row as recorded in the manifest."""
        return {
            "name": self.name,
            "trials": self.trials,
            "errors": self.errors,
            "generated_tokens": self.generated_tokens,
            "status": self.status,
            **self.extra,
        }


class RunExecutor(Protocol):
    """Runs a plan's pending trials; the caller stays the store's only writer."""

    name: str

    async def run(self, job: RunJob) -> RunStats:
        """Run every pending trial of ``job.plan``, storing each record as it arrives."""
        ...

    def rows(self) -> list[WorkerRow]:
        """Current per-worker (or per-endpoint) progress rows."""
        ...

    def describe(self) -> dict[str, Any]:
        """What ran the trials, for the run manifest (no secrets)."""
        ...


def group_key(trial: Trial) -> tuple[str, str, str]:
    """The unit of distributed work: one question on one model, all budgets and samples.

    Every trial of a group shares the question's prompt prefix, so a group stays on one
    worker (and behind a router on one replica) to keep its prompt cache warm.
    """
    return (trial.sample.task, trial.sample.id, trial.model)


def session_id(run: str, trial: Trial) -> str:
    """The ``X-Session-ID`` of a trial's group: ``<run>/<task>:<question id>``."""
    return group_session(run, trial.sample.task, trial.sample.id)


class LocalExecutor:
    """The default: asyncio in this process, every engine's slots kept busy."""

    name = "local"

    def __init__(self) -> None:
        self._engines: dict[str, Engine] = {}
        self._counts: dict[str, WorkerRow] = {}

    async def run(self, job: RunJob) -> RunStats:
        from overthink.engines.pool import EndpointPool  # its HTTP client: not for --help

        self._engines = job.engines
        for engine in job.engines.values():
            if isinstance(engine, EndpointPool) and job.notify is not None:
                engine.notify = job.notify
                for line in engine.pending_notices:
                    job.notify(line)  # e.g. an endpoint already down at the health check
        on_record = job.on_record

        def count(record: Record) -> None:
            row = self._counts.setdefault(record.model, WorkerRow(record.model))
            row.trials += 1
            row.errors += record.error is not None
            if on_record is not None:
                on_record(record)

        return await run_plan(
            job.plan,
            job.engines,
            job.store,
            job.run,
            on_record=count,
            prefix_sharing=job.prefix_sharing,
            options=job.options,
        )

    def rows(self) -> list[WorkerRow]:
        rows: list[WorkerRow] = []
        from overthink.engines.pool import EndpointPool

        for model, engine in self._engines.items():
            if isinstance(engine, EndpointPool):
                for r in engine.rows():
                    rows.append(
                        WorkerRow(
                            f"{model} @ {r['endpoint']}",
                            trials=int(r["calls"]),
                            generated_tokens=int(r["generated_tokens"]),
                            inflight=int(r["inflight"]),
                            status="up" if r["up"] else "down",
                            extra={"unit": "calls", "failures": r["failures"]},
                        )
                    )
            else:
                row = self._counts.get(model, WorkerRow(model))
                row.generated_tokens = engine.generated_tokens
                rows.append(row)
        return rows

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "workers": [r.as_dict() for r in self.rows()]}
