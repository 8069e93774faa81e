"""The Ray executor: trial groups run on async Ray actors that each own an ordinary engine.

* **Unit of work**: a trial group (one question on one model × its budgets × its
  samples), so prefix sharing and s1 forcing stay inside one worker with a warm cache.
* **Workers**: async actors, each building its engine once (the embedded llama.cpp server
  in its own process, a vLLM/SGLang endpoint, a hosted API) from a picklable factory;
  ``max_concurrency`` is the engine's slots; ``max_restarts=-1`` restarts a dead actor.
* **Driver**: the only writer to the SQLite store. It keeps at most ``slots`` groups in
  flight per actor (backpressure: nothing piles up in Ray's queues or in memory) and
  stores a group's records when they come back. A worker that dies mid-group loses
  nothing that was stored and stores nothing twice: its group is simply sent again, and
  ``Store.put`` never overwrites a successful record.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from overthink.core import Record, Trial
from overthink.engines.base import Engine
from overthink.engines.registry import EngineOptions, make_engine
from overthink.errors import ConfigError, EngineUnavailable, OverthinkError
from overthink.experiment.execution import RunJob, WorkerRow, group_key
from overthink.experiment.plan import Plan
from overthink.experiment.runner import RunStats, error_record, execute_group, pending_trials
from overthink.reasoning import ReasoningOptions
from overthink.tasks import Task

__all__ = ["EngineFactory", "GroupWorker", "RayExecutor", "check_address", "connect", "import_ray"]

EXTRA_HINT = "pip install 'overthink[ray]'"

# Ray's own housekeeping off by default: no usage reports, no dashboard.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def import_ray(*, loopback: bool = False) -> Any:
    """Ray, or a one-line error naming the extra to install.

    ``loopback``: a private single-node Ray is about to start; Ray reads at import time
    whether it may advertise a routable address, so say no before the first import.
    """
    if loopback and "ray" not in sys.modules:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError:
        raise ConfigError(
            f"--executor ray needs Ray, which is not installed: {EXTRA_HINT}"
        ) from None
    return ray


@dataclass(frozen=True)
class EngineFactory:
    """Picklable ``model -> Engine``: what each actor calls once to build its engine."""

    options: EngineOptions

    def __call__(self, model: str) -> Engine:
        return make_engine(model, self.options)


@dataclass
class GroupResult:
    """What a worker sends back for one group."""

    records: list[Record]
    pid: int
    generated_tokens: int
    """The worker's engine total so far (this incarnation of the actor)."""


class GroupWorker:
    """The actor body: one engine, many groups at once (up to ``max_concurrency``)."""

    def __init__(self, model: str, factory: Callable[[str], Engine], tasks: dict[str, Task]):
        self.model = model
        self.factory = factory
        self.plan = Plan(trials=[], tasks=tasks, budgets=[])
        self.engine: Engine | None = None
        self._lock: asyncio.Lock | None = None

    async def _engine(self) -> Engine:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.engine is None:
                engine = self.factory(self.model)
                await engine.check()
                self.engine = engine
        return self.engine

    async def run_group(
        self,
        trials: list[Trial],
        run: str,
        prefix_sharing: bool,
        options: ReasoningOptions | None,
    ) -> GroupResult:
        """Run a group's trials: each sample index is a prefix-sharing subgroup."""
        engine = await self._engine()
        by_index: dict[int, list[Trial]] = {}
        for trial in trials:
            by_index.setdefault(trial.sample_index, []).append(trial)
        parts = await asyncio.gather(
            *(
                execute_group(
                    engine, sub, self.plan, run, prefix_sharing=prefix_sharing, options=options
                )
                for sub in by_index.values()
            )
        )
        records = [r for part in parts for r in part]
        return GroupResult(records, os.getpid(), engine.generated_tokens)

    async def info(self) -> dict[str, Any]:
        """Where this worker runs and what its engine is."""
        engine = await self._engine()
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "engine": engine.describe(),
        }

    async def shutdown(self) -> None:
        """Close the engine (stops an embedded server this actor owns)."""
        if self.engine is not None:
            await self.engine.aclose()


@dataclass
class _Worker:
    row: WorkerRow
    handle: Any
    model: str
    slots: int
    inflight: int = 0
    pause_until: float = 0.0
    tokens_by_pid: dict[int, int] = field(default_factory=dict)
    pids: list[int] = field(default_factory=list)

    def returned(self, result: GroupResult) -> None:
        """Count a group this worker returned (its process id tells a restart apart)."""
        if result.pid not in self.pids:
            self.pids.append(result.pid)
        self.tokens_by_pid[result.pid] = max(
            self.tokens_by_pid.get(result.pid, 0), result.generated_tokens
        )
        self.row.generated_tokens = sum(self.tokens_by_pid.values())
        self.row.extra["restarts"] = max(0, len(self.pids) - 1)
        self.row.status = "up"


_Queues = dict[str, deque[tuple[list[Trial], int]]]
"""Per model, the groups of trials still to send and how often each was tried."""
_Inflight = dict[asyncio.Future[Any], tuple[_Worker, list[Trial], int]]
"""Per pending Ray call, the worker, its group and the attempt number."""


def check_address(address: str) -> None:
    """Fail in seconds, with one line, when a ``host:port`` cluster address is closed."""
    if address == "auto" or address.startswith(("ray://", "local", "http://", "https://")):
        return
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--address {address!r}: expected auto, host:port or ray://host:port")
    try:
        with socket.create_connection((host, int(port)), timeout=5.0):
            pass
    except OSError as exc:
        raise EngineUnavailable(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc} "
            "(is `ray start --head` running there?)"
        ) from None


def connect(address: str | None) -> dict[str, Any]:
    """Join (or start) Ray; returns what the manifest records about the cluster."""
    ray = import_ray(loopback=not address)
    if not ray.is_initialized():
        if address:
            check_address(address)
            try:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise EngineUnavailable(
                    f"cannot join the Ray cluster at {address}: {first}"
                ) from None
        else:
            # A private single-node Ray on loopback only.
            ray.init(
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                log_to_driver=False,
                configure_logging=False,
            )
    context = ray.get_runtime_context()
    return {
        "address": address or "local",
        "ray_version": ray.__version__,
        "nodes": sorted({n["NodeManagerAddress"] for n in ray.nodes() if n.get("Alive")}),
        "job_id": context.get_job_id(),
    }


_ACTOR_DIED = (
    "RayActorError",
    "ActorDiedError",
    "ActorUnavailableError",
    "WorkerCrashedError",
    "OwnerDiedError",
    "ObjectLostError",
)


def _worker_lost(exc: BaseException) -> bool:
    """True when the actor (not the group's code) failed: the group can simply rerun."""
    return any(cls.__name__ in _ACTOR_DIED for cls in type(exc).__mro__)


class RayExecutor:
    """Trial groups on Ray actors; the driver (this process) writes the store."""

    name = "ray"

    def __init__(
        self,
        *,
        factory: Callable[[str], Engine],
        workers: int = 2,
        slots: int = 1,
        address: str | None = None,
        num_gpus: float = 0.0,
        env: dict[str, str] | None = None,
        max_attempts: int = 4,
    ) -> None:
        self.factory = factory
        self.n_workers = max(1, workers)
        self.slots = max(1, slots)
        self.address = address
        self.num_gpus = num_gpus
        self.env = dict(env or {})
        self.max_attempts = max_attempts
        self.cluster: dict[str, Any] = {}
        self.workers: list[_Worker] = []
        self.max_inflight_seen = 0
        """Most groups in flight at once (backpressure keeps it at workers × slots)."""
        self.submitted = 0
        self.resubmitted = 0

    def _spawn(self, ray: Any, model: str, tasks: dict[str, Task]) -> list[_Worker]:
        actor_cls = ray.remote(GroupWorker)
        out = []
        for i in range(self.n_workers):
            options: dict[str, Any] = {
                "max_concurrency": self.slots,
                "max_restarts": -1,
                "max_task_retries": 0,
                "num_cpus": 0,
            }
            if self.num_gpus:
                options["num_gpus"] = self.num_gpus
            if self.env:
                options["runtime_env"] = {"env_vars": self.env}
            handle = actor_cls.options(**options).remote(model, self.factory, tasks)
            name = f"ray:{model}#{i}"
            out.append(_Worker(WorkerRow(name, extra={"restarts": 0}), handle, model, self.slots))
        return out

    def _fill(self, job: RunJob, queues: _Queues, inflight: _Inflight) -> None:
        """Hand queued groups to workers with a free slot, until none is left or ready."""
        now = time.monotonic()
        while True:
            # Least-loaded first, so a short queue spreads over every worker.
            ready = [
                w
                for w in self.workers
                if queues.get(w.model) and w.inflight < w.slots and w.pause_until <= now
            ]
            if not ready:
                return
            worker = min(ready, key=lambda w: w.inflight)
            group, attempt = queues[worker.model].popleft()
            ref = worker.handle.run_group.remote(group, job.run, job.prefix_sharing, job.options)
            inflight[asyncio.ensure_future(_await(ref))] = (worker, group, attempt)
            worker.inflight += 1
            worker.row.inflight = worker.inflight
            self.submitted += 1

    async def run(self, job: RunJob) -> RunStats:
        ray = import_ray(loopback=not self.address)
        self.cluster = connect(self.address)
        todo = pending_trials(job.plan, job.store)
        stats = RunStats(planned=len(job.plan.trials), skipped=len(job.plan.trials) - len(todo))
        queues: _Queues = {}
        grouped: dict[tuple[str, str, str], list[Trial]] = {}
        for trial in todo:
            grouped.setdefault(group_key(trial), []).append(trial)
        for key, group in grouped.items():
            queues.setdefault(key[2], deque()).append((group, 0))
        started = time.perf_counter()
        self.workers = []
        for model in queues:
            self.workers.extend(self._spawn(ray, model, job.plan.tasks))
        say = job.notify or (lambda _line: None)
        inflight: _Inflight = {}

        try:
            while any(queues.values()) or inflight:
                self._fill(job, queues, inflight)
                self.max_inflight_seen = max(self.max_inflight_seen, len(inflight))
                if not inflight:
                    # Every worker of a model with work left is pausing after a death.
                    await asyncio.sleep(0.1)
                    continue
                done, _ = await asyncio.wait(
                    inflight, timeout=1.0, return_when=asyncio.FIRST_COMPLETED
                )
                for fut in done:
                    worker, group, attempt = inflight.pop(fut)
                    worker.inflight -= 1
                    worker.row.inflight = worker.inflight
                    exc = fut.exception()
                    if exc is None:
                        result: GroupResult = fut.result()
                        worker.returned(result)
                        _store(job, stats, result.records, worker)
                        continue
                    if not _worker_lost(exc):
                        raise _worker_failure(worker, exc)
                    worker.row.status = "restarting"
                    worker.pause_until = time.monotonic() + 0.5
                    if attempt + 1 < self.max_attempts:
                        queues[worker.model].appendleft((group, attempt + 1))
                        self.resubmitted += 1
                        say(
                            f"{worker.row.name} died ({type(exc).__name__}); Ray restarts it "
                            f"and its group of {len(group)} trials is sent again"
                        )
                    else:
                        lost = RuntimeError(f"worker died {self.max_attempts} times on this group")
                        errors = [error_record(t, job.run, _NoEngine(), lost, 0.0) for t in group]
                        _store(job, stats, errors, worker)
        finally:
            for fut in inflight:
                fut.cancel()
            stats.wall_s = time.perf_counter() - started
            stats.generated_tokens = sum(w.row.generated_tokens for w in self.workers)
            await _stop_workers(ray, self.workers)
        return stats

    def rows(self) -> list[WorkerRow]:
        return [w.row for w in self.workers]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **self.cluster,
            "slots_per_worker": self.slots,
            "groups_submitted": self.submitted,
            "groups_resubmitted": self.resubmitted,
            "workers": [{**w.row.as_dict(), "pids": list(w.pids)} for w in self.workers],
        }


def _store(job: RunJob, stats: RunStats, records: list[Record], worker: _Worker) -> None:
    """Keep a group's records and count them for the run and for the worker."""
    for record in records:
        job.store.put(record)
        stats.done += 1
        stats.errors += record.error is not None
        worker.row.trials += 1
        worker.row.errors += record.error is not None
        if job.on_record is not None:
            job.on_record(record)


class _NoEngine(Engine):
    """Stands in for a worker's engine when the worker itself is gone (error records)."""

    name = "ray-worker"

    async def chat(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - never called
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"engine": "lost with its Ray worker"}


async def _await(ref: Any) -> Any:
    return await ref


def _worker_failure(worker: _Worker, exc: BaseException) -> OverthinkError:
    """A worker that cannot run at all (its engine does not start): one clear line."""
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()
    detail = text[-1] if text else type(cause).__name__
    return EngineUnavailable(f"{worker.row.name} failed: {detail}")


async def _stop_workers(ray: Any, workers: list[_Worker]) -> None:
    """Close engines (embedded servers) and end the actors; a stuck one is just killed."""
    if not workers:
        return
    refs = [w.handle.shutdown.remote() for w in workers]
    # Dead or stuck actors: killing them below is all that is left.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.gather(*(_await(r) for r in refs)), timeout=15.0)
    for w in workers:
        ray.kill(w.handle, no_restart=True)
