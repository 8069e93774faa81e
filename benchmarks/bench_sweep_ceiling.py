"""The budget sweep against bare clients and the server's own ceiling, one server, one run.

On one embedded llama.cpp server (SmolLM2-135M, the default slot count, prompt cache on)
this measures, in the same run and on the same questions (misleading_math, forced budgets
0/32/64/128/256, temperature 0):

* **ceiling** — a bare ``httpx`` client keeping every slot busy with ``ignore_eos``
  completions: the most tok/s this server gives right now;
* **bare separate** — a bare client doing s1 forcing with one thinking request per budget
  then the answer, every slot busy;
* **bare shared** — a bare client doing overthink's shared-trace method: one trace per
  question at the largest cap (logprobs for exact cuts), then every cut's answer at once;
* **overthink** — ``overthink run``'s default path (in-process, no report);
* **overthink, no placement** — the same with cache-aware slot placement off;
* **replay of overthink's work** — a bare client sending exactly the requests overthink
  sent (same prompts, caps and slots) with no waiting between them: the ceiling of this
  request mix on this server;
* **inspect_ai** — the same questions as five evals (``max_tokens`` caps) through its
  ``openai-api`` provider (skipped with ``--no-inspect`` or when it is not installed);

and prints the ratios with the issue's goals next to them. The raw ceiling is a different
workload (long decodes, tiny prompts); the replay is the same workload, so the tok/s ratio
is printed against both. It then measures start-up:
``overthink --help`` wall time, and the time from launching ``overthink run`` to its
first request at a local stand-in server (a stdlib HTTP server speaking llama.cpp's
``/health``/``/props``; only the arrival time of the first request is used), and the
time from the server's last answer to the exit of a small run (with and without its
HTML report).

    .venv/bin/python benchmarks/bench_sweep_ceiling.py [--samples 3] [--slots N] [--threads N]
        [--no-inspect]

The machine is shared: the load average is printed, and only ratios measured in this run
mean anything. Each overthink run's slot-seconds are split into prefill, decode, HTTP
and Python overhead, and idle (llama.cpp ``timings``; ``engines.served``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from overthink.engines.embedded import THREADS_ENV, EmbeddedServer, default_slots
from overthink.engines.openai_compat import OpenAICompatEngine
from overthink.engines.served import RequestLog
from overthink.experiment.config import load_config
from overthink.experiment.session import execute, prepare_run
from overthink.reasoning.prompts import THINK_FIRST
from overthink.tasks import get_task

ANSWER_TOKENS = 16  # the config's default max_answer_tokens
CUE = "Final answer:"


class Bare:
    """A minimal client: one httpx pool, ``slots`` requests in flight."""

    def __init__(self, address: str, slots: int) -> None:
        self.client = httpx.AsyncClient(base_url=address, timeout=600)
        self.gate = asyncio.Semaphore(slots)
        self.generated = 0

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        async with self.gate:
            resp = await self.client.post(path, json=body)
        resp.raise_for_status()
        data = resp.json()
        self.generated += (data.get("usage") or {}).get("completion_tokens", 0)
        return data

    async def prefix(self, question: str) -> str:
        messages = [
            {"role": "system", "content": THINK_FIRST},
            {"role": "user", "content": question},
        ]
        data = await self.post("/apply-template", {"messages": messages})
        return str(data["prompt"]) + "<think>\n"

    async def complete(self, prompt: str, max_tokens: int, **extra: Any) -> Any:
        body = {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0.0, "seed": 0}
        return (await self.post("/v1/completions", {**body, **extra}))["choices"][0]

    async def answer(self, prefix: str, reasoning: str) -> None:
        await self.complete(f"{prefix}{reasoning.rstrip()}\n</think>\n{CUE}", ANSWER_TOKENS)


async def ceiling(address: str, slots: int, requests: int, tokens: int) -> float:
    bare = Bare(address, slots)
    started = time.perf_counter()
    await asyncio.gather(
        *(
            bare.post(
                "/v1/completions",
                {
                    "prompt": f"<|im_start|>user\nTell story {i}.<|im_end|>\n",
                    "max_tokens": tokens,
                    "temperature": 0.7,
                    "seed": i,
                    "ignore_eos": True,
                },
            )
            for i in range(requests)
        )
    )
    wall = time.perf_counter() - started
    await bare.client.aclose()
    return bare.generated / wall


async def bare_separate(
    address: str, slots: int, questions: list[str], budgets: list[int]
) -> tuple[float, int]:
    bare = Bare(address, slots)

    async def one(question: str, cap: int) -> None:
        prefix = await bare.prefix(question)
        reasoning = ""
        if cap > 0:
            reasoning = (await bare.complete(prefix, cap, stop=["</think>"]))["text"]
        await bare.answer(prefix, reasoning)

    started = time.perf_counter()
    await asyncio.gather(*(one(q, b) for q in questions for b in sorted(budgets, reverse=True)))
    wall = time.perf_counter() - started
    await bare.client.aclose()
    return wall, bare.generated


async def bare_shared(
    address: str, slots: int, questions: list[str], budgets: list[int]
) -> tuple[float, int]:
    bare = Bare(address, slots)
    top_cap = max(budgets)

    async def one(question: str) -> None:
        prefix = await bare.prefix(question)
        top = await bare.complete(prefix, top_cap, stop=["</think>"], logprobs=1)
        pieces = [bytes(t["bytes"]) for t in top["logprobs"]["content"]]
        cuts = []
        for cap in budgets:
            if cap == 0:
                cuts.append("")
            elif len(pieces) > cap:
                cuts.append(b"".join(pieces[:cap]).decode("utf-8", errors="replace"))
            else:
                cuts.append(top["text"])
        await asyncio.gather(*(bare.answer(prefix, r) for r in cuts))

    started = time.perf_counter()
    await asyncio.gather(*(one(q) for q in questions))
    wall = time.perf_counter() - started
    await bare.client.aclose()
    return wall, bare.generated


def run_overthink(
    out: Path, samples: int, budgets: str, slots: int, *, placement: bool = True
) -> tuple[float, int, float | None, RequestLog, float]:
    """``overthink run``'s default path in-process; its requests noted (server timings and
    bodies). ``placement=False`` turns cache-aware slot placement off (for comparison)."""
    cfg = load_config(
        None,
        {
            "tasks": [{"name": "misleading_math"}],
            "samples": samples,
            "budgets": budgets,
            "concurrency": slots,
            "report": False,
            "out": str(out),
        },
    )
    log = RequestLog(keep_payloads=True)

    async def go() -> tuple[float, int, float | None, RequestLog, float]:
        prepared = await prepare_run(cfg)
        for engine in prepared.engines.values():
            if isinstance(engine, OpenAICompatEngine):
                engine.request_log = log
                if not placement:
                    engine.pin_slots = False
        started = time.perf_counter()
        stats = await execute(prepared)
        return stats.wall_s, stats.generated_tokens, stats.cache_hit_rate, log, started

    return asyncio.run(go())


async def replay(address: str, slots: int, log: RequestLog) -> tuple[float, int]:
    """The same work as overthink's run, by a bare client with no waiting between requests.

    Every request overthink sent (same prompts, caps, stops, seeds, and the slot it was
    placed on), in the order it sent them, each slot fed its own queue so no slot idles
    while it has work; requests overthink did not place share ``slots`` in flight. No
    request waits for another's result, so this is the most this server does for exactly
    this request mix: the ceiling overthink's sweep could reach.
    """
    bare = Bare(address, slots)
    queues: dict[int | None, list[dict[str, Any]]] = {}
    for r in sorted(log.requests, key=lambda r: r.started):
        body = {k: v for k, v in (r.payload or {}).items() if k != "stream"}
        queues.setdefault(r.slot, []).append(body)

    async def run_queue(bodies: list[dict[str, Any]], ordered: bool) -> None:
        if ordered:
            for body in bodies:
                await bare.post("/v1/completions", body)
        else:
            await asyncio.gather(*(bare.post("/v1/completions", b) for b in bodies))

    started = time.perf_counter()
    await asyncio.gather(*(run_queue(q, slot is not None) for slot, q in queues.items()))
    wall = time.perf_counter() - started
    await bare.client.aclose()
    return wall, bare.generated


def run_inspect(
    address: str, questions: list[str], budgets: list[int], slots: int, tmp: Path
) -> tuple[float, int] | str:
    """The same sweep as five inspect_ai evals (one per budget, ``max_tokens`` = budget plus
    the answer allowance; inspect_ai has no forced answer) against the same server, through
    its ``openai-api`` provider, ``slots`` connections, all five tasks at once. Returns
    (wall, generated tokens), or why it could not run."""
    try:
        from inspect_ai import Task, eval
        from inspect_ai.dataset import Sample
        from inspect_ai.model import GenerateConfig
        from inspect_ai.solver import generate, system_message
    except ImportError as exc:
        return (
            f"not measured: inspect_ai is not installed ({exc.name}); pip install -e '.[inspect]'"
        )

    def task(cap: int) -> Task:
        return Task(
            name=f"sweep_{cap}",
            dataset=[Sample(input=q, id=i) for i, q in enumerate(questions)],
            solver=[system_message(THINK_FIRST), generate()],
            config=GenerateConfig(max_tokens=cap + ANSWER_TOKENS, temperature=0.0, seed=0),
        )

    started = time.perf_counter()
    logs = eval(
        [task(cap) for cap in budgets],
        model="openai-api/llamacpp/smol",
        model_base_url=f"{address}/v1",
        model_args={"api_key": "not-needed"},
        max_connections=slots,
        max_tasks=len(budgets),
        log_dir=str(tmp / "inspect-logs"),
        display="none",
    )
    wall = time.perf_counter() - started
    failed = [log.error for log in logs if log.status != "success"]
    if failed:
        return f"not measured: inspect_ai eval failed: {str(failed[0])[:200]}"
    tokens = sum(u.output_tokens for log in logs for u in log.stats.model_usage.values())
    return wall, tokens


class _FirstRequest(BaseHTTPRequestHandler):
    """Stands in for llama.cpp: answers the health check, /props and /apply-template;
    notes when the first request of any kind and the first generation request arrive
    (and answers those 503)."""

    first_post: float | None = None
    first_generation: float | None = None

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._json(b'{"total_slots": 4, "chat_template": ""}' if "props" in self.path else b"{}")

    def do_POST(self) -> None:
        now = time.time()
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        cls = type(self)
        if cls.first_post is None:
            cls.first_post = now
        if self.path.endswith("/apply-template"):
            self._json(b'{"prompt": "<|im_start|>user\\nQ<|im_end|>\\n"}')
            return
        if cls.first_generation is None:
            cls.first_generation = now
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()


def start_to_first_request(tmp: Path, run: int) -> tuple[float, float]:
    """Seconds from launching ``overthink run`` to its first request, and to its first
    generation request (a completion or chat call), at a fresh stand-in server."""

    # A fresh handler class per run: a previous run's handler threads may still be
    # answering its (killed) process's last requests and must not set this run's times.
    class handler(_FirstRequest):
        first_post = None
        first_generation = None

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    exe = Path(sys.executable).with_name("overthink")
    launched = time.time()
    proc = subprocess.Popen(
        [str(exe), "run", "--model", "openai-api/smol", "--base-url", url, "--samples", "1",
         "--out", str(tmp / f"first-{run}"), "--no-report"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = launched + 60
    while handler.first_generation is None and time.time() < deadline:
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    server.shutdown()
    server.server_close()
    first = (handler.first_post or float("nan")) - launched
    return first, (handler.first_generation or float("nan")) - launched


class _Forward(BaseHTTPRequestHandler):
    """Forwards to the embedded server and notes when it last answered a request."""

    protocol_version = "HTTP/1.1"
    upstream = ""
    last_answer = 0.0

    def log_message(self, *args: Any) -> None:
        pass

    def _forward(self, body: bytes | None) -> None:
        with httpx.Client(timeout=300) as client:
            resp = client.request(self.command, self.upstream + self.path, content=body,
                                  headers={"Content-Type": "application/json"})  # fmt: skip
        self.send_response(resp.status_code)
        self.send_header("Content-Type", resp.headers.get("content-type", "application/json"))
        self.send_header("Content-Length", str(len(resp.content)))
        self.end_headers()
        self.wfile.write(resp.content)
        type(self).last_answer = time.time()

    def do_GET(self) -> None:
        self._forward(None)

    def do_POST(self) -> None:
        self._forward(self.rfile.read(int(self.headers.get("Content-Length", 0))))


def last_answer_to_exit(address: str, tmp: Path, *, report: bool) -> float:
    """Seconds from the server's last answer to ``overthink run``'s exit (a small run on
    the embedded server, through a forwarding proxy that notes the answers' times)."""

    class handler(_Forward):
        upstream = address
        last_answer = 0.0

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    exe = Path(sys.executable).with_name("overthink")
    out = tmp / f"finish-{report}-{time.time_ns()}"
    subprocess.run(
        [str(exe), "run", "--model", "openai-api/smol", "--base-url", url, "--samples", "1",
         "--budgets", "0,8", "--out", str(out), *([] if report else ["--no-report"])],
        capture_output=True, check=True, timeout=600,
    )  # fmt: skip
    exited = time.time()
    server.shutdown()
    server.server_close()
    return exited - handler.last_answer


def help_wall() -> float:
    exe = Path(sys.executable).with_name("overthink")
    started = time.perf_counter()
    subprocess.run([str(exe), "--help"], capture_output=True, check=True)
    return time.perf_counter() - started


def _goal(ok: bool) -> str:
    return "meets goal" if ok else "MISSES goal"


def _breakdown(label: str, log: RequestLog, started: float, wall: float, slots: int) -> str:
    """One line: where the run's slot-seconds went (server ``timings``; engines.served)."""
    b = log.summary(started, started + wall, slots)
    return (
        f"{label:26}busy {b['busy']:.0%} (prefill {b['prefill']:.0%}, decode {b['decode']:.0%},"
        f" http/python {b['overhead']:.0%}), idle {b['idle']:.0%}; "
        f"prefilled {b['prefill_tokens']:.0f} prompt tokens, {b['cached_tokens']:.0f} from "
        f"cache ({b['cache_hit']:.0%}); decoded {b['decoded_tokens']:.0f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=3, help="questions per distractor level")
    parser.add_argument("--budgets", default="0,32,64,128,256")
    parser.add_argument("--slots", type=int, default=default_slots())
    parser.add_argument(
        "--threads", type=int, default=None,
        help=f"llama.cpp threads (default: as a run picks them, {THREADS_ENV} or idle cores)",
    )  # fmt: skip
    parser.add_argument("--no-inspect", action="store_true", help="skip the inspect_ai row")
    args = parser.parse_args()
    if args.threads is not None:
        os.environ[THREADS_ENV] = str(args.threads)
    budgets = [int(b) for b in args.budgets.split(",")]
    task = get_task("misleading_math")
    questions = [
        s.prompt for level in (0, 1, 3, 5) for s in task.samples(args.samples, 0, distractors=level)
    ]
    load_before = os.getloadavg()
    server = EmbeddedServer.shared(slots=args.slots)
    address, slots = server.address, args.slots
    tps_ceiling = asyncio.run(ceiling(address, slots, 4 * slots, 48))
    sep_wall, sep_tokens = asyncio.run(bare_separate(address, slots, questions, budgets))
    sha_wall, sha_tokens = asyncio.run(bare_shared(address, slots, questions, budgets))
    with tempfile.TemporaryDirectory(prefix="bench-ceiling-") as tmp:
        off_wall, off_tokens, off_hit, off_log, off_start = run_overthink(
            Path(tmp) / "off", args.samples, args.budgets, slots, placement=False
        )
        ot_wall, ot_tokens, hit, ot_log, ot_start = run_overthink(
            Path(tmp) / "ot", args.samples, args.budgets, slots
        )
        mix_wall, mix_tokens = asyncio.run(replay(address, slots, ot_log))
        tps_ceiling_after = asyncio.run(ceiling(address, slots, 4 * slots, 48))
        inspect_row: tuple[float, int] | str = "skipped (--no-inspect)"
        if not args.no_inspect:
            inspect_row = run_inspect(address, questions, budgets, slots, Path(tmp))
        finish = [last_answer_to_exit(address, Path(tmp), report=r) for r in (False, True)]
        EmbeddedServer.stop_all()
        starts = [start_to_first_request(Path(tmp), i) for i in range(3)]
    helps = [help_wall() for _ in range(3)]
    load_after = os.getloadavg()
    ceiling_tps = (tps_ceiling + tps_ceiling_after) / 2
    ot_tps = ot_tokens / ot_wall
    mix_tps = mix_tokens / mix_wall

    print(f"sweep: forced {{{args.budgets}}} × {len(questions)} misleading_math questions, "
          f"embedded SmolLM2, {slots} slots, threads {server.threads}")  # fmt: skip
    print(
        "load average (1/5/15 min): "
        f"{'/'.join(f'{v:.1f}' for v in load_before)} before, "
        f"{'/'.join(f'{v:.1f}' for v in load_after)} after"
    )
    print(f"{'way':26}{'wall s':>8}{'tokens':>8}{'tok/s':>7}")
    rows: list[tuple[str, float, int]] = [
        ("bare separate", sep_wall, sep_tokens),
        ("bare shared", sha_wall, sha_tokens),
        ("overthink, no placement", off_wall, off_tokens),
        ("overthink (default)", ot_wall, ot_tokens),
        ("replay of overthink's work", mix_wall, mix_tokens),
    ]
    if not isinstance(inspect_row, str):
        rows.append(("inspect_ai, five evals", *inspect_row))
    for label, wall, tokens in rows:
        print(f"{label:26}{wall:>8.1f}{tokens:>8}{tokens / wall:>7.0f}")
    if isinstance(inspect_row, str):
        print(f"{'inspect_ai, five evals':26}{inspect_row}")
    print(
        f"raw ceiling (ignore_eos): {tps_ceiling:.0f} tok/s before, {tps_ceiling_after:.0f} after"
    )
    print(_breakdown("overthink, no placement:", off_log, off_start, off_wall, slots))
    print(_breakdown("overthink (default):", ot_log, ot_start, ot_wall, slots))
    print(
        "prompt cache hit rate (run's own counter): "
        + (f"{off_hit:.0%} no placement, " if off_hit is not None else "")
        + (f"{hit:.0%} default" if hit is not None else "none")
    )
    r1 = ot_wall / sha_wall
    r2 = sep_wall / ot_wall
    r3 = ot_tps / ceiling_tps
    r4 = ot_tps / mix_tps
    print(f"overthink / bare shared wall:      {r1:.2f}×  (goal ≤ 1.05: {_goal(r1 <= 1.05)})")
    print(f"bare separate / overthink wall:    {r2:.2f}×  (goal ≥ 2: {_goal(r2 >= 2)})")
    print(f"overthink tok/s / raw ceiling:     {r3:.2f}   (goal ≥ 0.9: {_goal(r3 >= 0.9)})")
    # Why r3 can miss: the raw ceiling prefills ~10 tokens per request, a sweep must read
    # each question's prompt once, and on CPU a prompt token costs nearly what a decoded
    # one does at full slots. Context lines, not goals:
    b = ot_log.summary(ot_start, ot_start + ot_wall, slots)
    work = (b["prefill_tokens"] + b["decoded_tokens"]) / ot_wall
    once = sum(r.prompt_n + r.cache_n for r in ot_log.requests if r.kind == "stream")
    print(f"  (prompt tokens computed + decoded) / s / raw ceiling: {work / ceiling_tps:.2f}; "
          f"prompt tokens computed {b['prefill_tokens']:.0f}, each question's trace prompt "
          f"once in full {once}")  # fmt: skip
    print(f"overthink tok/s / same-mix replay: {r4:.2f}   (goal ≥ 0.9: {_goal(r4 >= 0.9)})")
    if not isinstance(inspect_row, str):
        r5 = inspect_row[0] / ot_wall
        print(f"inspect_ai / overthink wall:       {r5:.2f}×  (goal ≥ 2: {_goal(r5 >= 2)})")
    else:
        print("inspect_ai / overthink wall:       not measured (goal ≥ 2)")
    first = [f for f, _ in starts]
    first_gen = [g for _, g in starts]
    print(
        f"start → first request (overthink run → --base-url): "
        f"{', '.join(f'{f:.2f}' for f in first)} s  (goal < 1 s: {_goal(max(first) < 1)})"
    )
    print(
        f"start → first generation request:                  "
        f"{', '.join(f'{g:.2f}' for g in first_gen)} s  (goal < 1 s: {_goal(max(first_gen) < 1)})"
    )
    print(
        f"last answer → exit (overthink run, 2 budgets × 4 questions): {finish[0]:.2f} s with "
        f"--no-report, {finish[1]:.2f} s writing the HTML report"
    )
    print(
        f"overthink --help: {', '.join(f'{h:.2f}' for h in helps)} s  "
        f"(goal < 0.5 s: {_goal(max(helps) < 0.5)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
