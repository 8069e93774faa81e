"""Slot pinning on a llama.cpp server that another client shares: ``pin_slots`` on vs auto.

One embedded llama.cpp server (SmolLM2-135M, the default slot count) is used as an external
``openai-api/`` server. Another client keeps slot 0 busy with long generations
(``id_slot: 0``, ``ignore_eos``, one after another) — from before the run (``start``: the
``GET /slots`` guard sees it), from just after the engine's start guard looked (``late``:
the in-run guard must notice), or never (``idle``: auto must pin like on). Each scenario
runs a small forced sweep (misleading_math, budgets 0/32/64) once per mode, modes
interleaved per round, and prints wall times, the ratio on ÷ auto and what the manifest's
``placement`` says.

    .venv/bin/python benchmarks/bench_shared_server.py [--rounds 1] [--samples 2]

Goals: hogged, auto at least 1.2x faster than on; idle, auto within 10 % of on and still
pinned. Timings depend on the machine's load (printed): the modes of one round run back
to back on the same server, so compare within a round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import threading
import time
import urllib.request
from typing import Any

from overthink.engines.embedded import EmbeddedServer, default_slots
from overthink.experiment.config import load_config
from overthink.experiment.session import execute, placements, prepare_run

SCENARIOS = {"start": ("on", "auto", "off"), "late": ("on", "auto"), "idle": ("on", "auto")}


class Hog:
    """Another client: back-to-back long generations pinned to slot 0."""

    def __init__(self, address: str, tokens: int = 150) -> None:
        self.address = address
        self.tokens = tokens
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.generations = 0

    def _loop(self) -> None:
        body = {"prompt": "Tell me a long story.", "n_predict": self.tokens, "id_slot": 0,
                "ignore_eos": True, "cache_prompt": False}  # fmt: skip
        while not self.stop.is_set():
            request = urllib.request.Request(
                self.address + "/completion",
                json.dumps(body).encode(),
                {"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=300) as resp:
                resp.read()
            self.generations += 1

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self._slot0_busy():  # the first generation has begun
            if time.monotonic() > deadline:
                raise RuntimeError("the other client's generation never started")
            time.sleep(0.05)

    def _slot0_busy(self) -> bool:
        with urllib.request.urlopen(self.address + "/slots", timeout=5) as resp:
            return bool(json.loads(resp.read())[0]["is_processing"])

    def close(self) -> None:
        self.stop.set()
        self.thread.join(300)


async def one_run(server: EmbeddedServer, scenario: str, mode: str, samples: int) -> dict[str, Any]:
    """Wall seconds and placement of one run."""
    cfg = load_config(None, {
        "models": [f"openai-api/{server.model_path.stem}"], "base_url": server.address + "/v1",
        "out": tempfile.mkdtemp(prefix="bench_shared_"), "report": False, "samples": samples,
        "budgets": "0,32,64", "pin_slots": mode,
    })  # fmt: skip
    hog = Hog(server.address)
    if scenario == "start":
        await asyncio.to_thread(hog.start)
    prepared = await prepare_run(cfg)  # the engine's start guard looks here
    if scenario == "late":
        await asyncio.to_thread(hog.start)
    started = time.perf_counter()
    try:
        stats = await execute(prepared)
    finally:
        if scenario != "idle":
            await asyncio.to_thread(hog.close)
    wall = time.perf_counter() - started
    (entry,) = placements(prepared.engines).values()
    return {"wall": wall, "errors": stats.errors, "cache": stats.cache_hit_rate, "placement": entry}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--samples", type=int, default=2)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (2-core VM shared with other work)")
    server = EmbeddedServer.shared(slots=default_slots())
    walls: dict[tuple[str, str], list[float]] = {}
    for r in range(args.rounds):
        for scenario, modes in SCENARIOS.items():
            for mode in modes:
                out = asyncio.run(one_run(server, scenario, mode, args.samples))
                walls.setdefault((scenario, mode), []).append(out["wall"])
                p = out["placement"]
                print(f"round {r + 1} {scenario:5s} {mode:4s} wall {out['wall']:6.1f} s  "
                      f"errors {out['errors']}  cache hit {out['cache'] or 0:.0%}  "
                      f"pinned {p['pinned']}  {p.get('why', '')}", flush=True)  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    for scenario in SCENARIOS:
        on = statistics.median(walls[(scenario, "on")])
        auto = statistics.median(walls[(scenario, "auto")])
        goal = "goal >= 1.2" if scenario != "idle" else "goal 0.9-1.1 (no false drop)"
        print(f"{scenario:5s}: on {on:.1f} s, auto {auto:.1f} s, on / auto = {on / auto:.2f}x "
              f"({goal})")  # fmt: skip


if __name__ == "__main__":
    main()
