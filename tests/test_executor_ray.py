"""The Ray executor on a local, loopback-only Ray started once for this module.

Fake-engine actors test dispatch, backpressure, a worker killed mid-run and resuming
after the driver stops; one real-engine test runs two actors that each own an embedded
llama.cpp server and checks their records equal the local executor's (deterministic).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from overthink.engines.registry import EngineOptions
from overthink.errors import ConfigError, EngineUnavailable
from overthink.experiment.config import load_config
from overthink.experiment.execution import RunJob, group_key
from overthink.experiment.plan import Plan, make_plan
from overthink.experiment.runner import RunStats
from overthink.experiment.session import execute, prepare_run
from overthink.experiment.store import Store
from overthink.testing import FakeEngineFactory, UnreachableEngineFactory

# Before Ray's first import: it decides then whether to advertise a routable address.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
ray = pytest.importorskip("ray")

from overthink.executors.ray_executor import (  # noqa: E402
    EngineFactory,
    RayExecutor,
    check_address,
)


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    """One Ray for the module: loopback only, no dashboard, no usage stats, 2 CPUs."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        num_cpus=2,
        object_store_memory=100 * 1024 * 1024,
        log_to_driver=False,
        configure_logging=False,
    )
    yield ray
    ray.shutdown()


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    out, frontier = set(), {root}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier and p not in out}
        out |= frontier
    return out


def _listening(pids: set[int]) -> list[tuple[int, str]]:
    """(pid, local address) of every listening TCP socket the processes hold."""
    inodes: dict[str, int] = {}
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes[link[8:-1]] = pid
        except OSError:
            continue
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                cols = line.split()
                if cols[3] == "0A" and cols[9] in inodes:  # 0A = LISTEN
                    found.append((inodes[cols[9]], cols[1]))
    return found


def test_ray_advertises_only_loopback(ray_local: Any) -> None:
    """Every address Ray hands out (nodes, GCS) is 127.0.0.1."""
    assert {n["NodeManagerAddress"] for n in ray_local.nodes()} == {"127.0.0.1"}
    gcs = ray_local.get_runtime_context().gcs_address
    assert gcs.startswith("127.0.0.1:"), gcs


def test_ray_binds_only_loopback(ray_local: Any) -> None:
    pids = _descendants(os.getpid())
    sockets = _listening(pids)
    assert sockets, "found no listening socket of the Ray processes (the check would be vacuous)"
    # 127.0.0.1, ::1, ::ffff:127.0.0.1 as /proc/net/tcp{,6} spell them
    loopback = (
        "0100007F:",
        "00000000000000000000000001000000:",
        "0000000000000000FFFF00000100007F:",
    )
    wide = [(pid, addr) for pid, addr in sockets if not addr.startswith(loopback)]
    assert not wide, f"Ray listens beyond loopback: {wide}"


def _plan(tmp: Path, **over: Any) -> Plan:
    cfg = load_config(
        None,
        {
            "budgets": "natural,none,prompt:64",
            "budget_mode": "forced",
            "samples": 3,
            "samples_per_question": 2,
            "temperature": 0.7,
            "out": str(tmp),
            **over,
        },
    )
    return make_plan(cfg)


def _run(executor: RayExecutor, plan: Plan, store: Store, **job: Any) -> RunStats:
    return asyncio.run(
        executor.run(RunJob(plan=plan, engines={}, store=store, run="r", run_dir=Path("."), **job))
    )


def test_ray_dispatch_and_backpressure(ray_local: Any, tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    groups = {group_key(t) for t in plan.trials}
    assert len(plan.trials) == 72 and len(groups) == 12
    executor = RayExecutor(factory=FakeEngineFactory(latency_s=0.02), workers=2, slots=2)
    with Store(tmp_path / "s.sqlite") as store:
        stats = _run(executor, plan, store)
        assert stats.done == 72 and stats.errors == 0 and store.count() == 72
        assert store.successful_trial_ids() == {t.trial_id for t in plan.trials}
    # One submission per group; never more in flight than workers × slots.
    assert executor.submitted == 12 and executor.resubmitted == 0
    assert executor.max_inflight_seen == 4
    rows = executor.rows()
    assert len(rows) == 2 and all(r.trials > 0 for r in rows), rows
    assert sum(r.trials for r in rows) == 72
    assert all(r.trials % 6 == 0 for r in rows)  # whole groups only
    assert executor.describe()["workers"][0]["pids"]


def test_ray_worker_killed_mid_run_loses_and_duplicates_nothing(
    ray_local: Any, tmp_path: Path
) -> None:
    plan = _plan(tmp_path)
    marker = tmp_path / "died"
    # Long enough calls that the dead worker is back (Ray restarts it) before the end.
    factory = FakeEngineFactory(latency_s=0.1, die_once=(marker, 3))
    executor = RayExecutor(factory=factory, workers=2, slots=2)
    lines: list[str] = []
    with Store(tmp_path / "s.sqlite") as store:
        stats = _run(executor, plan, store, notify=lines.append)
        assert marker.exists(), "no worker was killed: the test did not test anything"
        assert stats.errors == 0 and store.count() == 72
        assert store.successful_trial_ids() == {t.trial_id for t in plan.trials}
    assert executor.resubmitted >= 1
    assert any("died" in line and "sent again" in line for line in lines), lines
    dead_pid = int(marker.read_text())
    workers = executor.describe()["workers"]
    assert all(dead_pid not in w["pids"] for w in workers)  # nothing came back from it
    assert all(w["trials"] > 0 for w in workers), workers  # the restarted one worked again


def test_ray_resume_after_driver_stopped(ray_local: Any, tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    executor = RayExecutor(factory=FakeEngineFactory(latency_s=0.05), workers=2, slots=1)
    seen: list[str] = []

    async def stop_after(n: int, store: Store) -> None:
        done = asyncio.Event()

        def on_record(record: Any) -> None:
            seen.append(record.trial_id)
            if len(seen) >= n:
                done.set()

        job = RunJob(plan=plan, engines={}, store=store, run="r", run_dir=Path("."),
                     on_record=on_record)  # fmt: skip
        task = asyncio.ensure_future(executor.run(job))
        await done.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with Store(tmp_path / "s.sqlite") as store:
        asyncio.run(stop_after(12, store))
        first = store.count()
        assert 12 <= first < 72
        again = RayExecutor(factory=FakeEngineFactory(), workers=2, slots=2)
        stats = _run(again, plan, store)
        assert stats.skipped == first and stats.done == 72 - first
        assert store.count() == 72
        assert store.successful_trial_ids() == {t.trial_id for t in plan.trials}


def test_ray_worker_that_cannot_start_its_engine_is_one_line(
    ray_local: Any, tmp_path: Path
) -> None:
    plan = _plan(tmp_path)
    executor = RayExecutor(factory=UnreachableEngineFactory(), workers=1, slots=1)
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(EngineUnavailable) as info:
            _run(executor, plan, store)
        assert store.count() == 0
    message = str(info.value)
    assert "\n" not in message and message.startswith("ray:embedded#0 failed: ")
    assert "cannot reach model server at http://127.0.0.1:9" in message


def test_ray_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from overthink.executors import make_executor

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    cfg = load_config(None, {"executor": "ray"})
    with pytest.raises(ConfigError, match=r"overthink\[ray\]"):
        make_executor(cfg)


def test_ray_unreachable_address_is_one_line() -> None:
    with pytest.raises(EngineUnavailable, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:9"):
        check_address("127.0.0.1:9")


@pytest.mark.engine
def test_ray_embedded_actors_equal_local_records(
    ray_local: Any, embedded_server: Any, tmp_path: Path
) -> None:
    """Two actors, each owning an embedded server (1 slot, 1 thread), in deterministic mode,
    give the same records as the local executor (timings and server shape aside)."""
    over = {
        "budgets": "0,16",
        "samples": 1,
        "tasks": [{"name": "misleading_math", "knobs": {"distractors": [0, 1]}}],
        "deterministic": True,
        "max_answer_tokens": 8,
        "report": False,
    }
    local_cfg = load_config(None, {**over, "out": str(tmp_path / "local")})
    ray_cfg = load_config(None, {**over, "out": str(tmp_path / "ray")})

    async def go() -> None:
        t0 = time.perf_counter()
        await execute(await prepare_run(local_cfg))
        t1 = time.perf_counter()
        factory = EngineFactory(EngineOptions(concurrency=1, deterministic=True))
        executor = RayExecutor(factory=factory, workers=2, slots=1, env={"OVERTHINK_THREADS": "1"})
        await execute(await prepare_run(ray_cfg), executor=executor)
        print(f"local {t1 - t0:.1f} s, ray {time.perf_counter() - t1:.1f} s")

    asyncio.run(go())
    with Store.of_run(tmp_path / "local") as a, Store.of_run(tmp_path / "ray") as b:
        local = {r.trial_id: r for r in a.records()}
        remote = {r.trial_id: r for r in b.records()}
        manifest = b.get_meta("manifest")
    assert local.keys() == remote.keys() and len(local) == 4
    timing = {"latency_s", "created_at", "resolved"}
    shape = {"slots", "threads"}  # the actors' servers are smaller: engine facts, not output
    for tid, rec in local.items():
        other = remote[tid]
        assert other.error is None
        assert rec.model_dump(exclude=timing) == other.model_dump(exclude=timing)
        strip = {k: v for k, v in rec.resolved.items() if k not in shape}
        assert strip == {k: v for k, v in other.resolved.items() if k not in shape}
    assert manifest["executor"]["name"] == "ray"
    workers = manifest["executor"]["workers"]
    assert len(workers) == 2 and sum(w["trials"] for w in workers) == 4
    assert all(w["trials"] > 0 for w in workers)
