"""Embedded engine start-up: our EmbeddedServer (start + /health ready) vs a bare
``xllamacpp.Server`` construction, measured in the same run.

Run: .venv/bin/python benchmarks/bench_startup.py [repeats]
"""

from __future__ import annotations

import statistics
import sys
import time
import urllib.request

import xllamacpp

from overthink.engines.embedded import EmbeddedServer, default_model_path


def bare_start(path: str) -> float:
    params = xllamacpp.CommonParams()
    params.model.path = path
    params.n_parallel = 4
    params.n_ctx = 4 * 4096
    params.port = 0
    params.verbosity = -1
    params.warmup = False
    t0 = time.perf_counter()
    server = xllamacpp.Server(params)
    elapsed = time.perf_counter() - t0
    # Stop only once listening (stopping earlier can hang inside cpp-httplib).
    urllib.request.urlopen(str(server.listening_address) + "/health", timeout=10).read()
    del server
    return elapsed


def ours() -> float:
    t0 = time.perf_counter()
    server = EmbeddedServer(default_model_path(), slots=4, ctx_per_slot=4096)
    elapsed = time.perf_counter() - t0
    server.stop()
    return elapsed


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    path = str(default_model_path())
    bare = [bare_start(path) for _ in range(repeats)]
    mine = [ours() for _ in range(repeats)]
    b, m = statistics.median(bare), statistics.median(mine)
    print(f"bare xllamacpp.Server():      median {b:.3f} s  (min {min(bare):.3f})")
    print(f"EmbeddedServer (ready/health): median {m:.3f} s  (min {min(mine):.3f})")
    print(f"ratio ours/bare: {m / b:.2f}")


if __name__ == "__main__":
    main()
