"""Slot pinning on a llama.cpp server shared with other clients (engines.pinning).

Most tests use a local wire double: a stdlib HTTP server speaking llama.cpp's wire format
(``/health``, ``/props`` with ``total_slots``, ``/slots`` with ``is_processing``,
``/v1/completions`` plain and streamed as SSE with ``timings`` on the last event) that
honours ``id_slot``: a request naming the slot "busy with another client" is held
``HOLD_S`` before it is served, like llama.cpp queueing it behind a stranger's generation.
One test hogs a slot of the real shared embedded server.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from overthink.engines.embedded import EmbeddedEngine, EmbeddedServer
from overthink.engines.openai_compat import OpenAICompatEngine
from overthink.engines.pinning import (
    SlotPlacement,
    placement_of,
    placement_warning,
    server_wait,
)
from overthink.engines.served import RequestLog
from overthink.engines.slots import PrioritySlots, current_slot, request_affinity
from overthink.errors import ConfigError
from overthink.experiment.config import ExperimentConfig, load_config
from overthink.experiment.session import execute, placements, prepare_run
from overthink.experiment.store import Store

HOLD_S = 2.5
"""How long a request naming the busy slot waits (another client's generation)."""
HOG_S = 3.5
"""How long the other client holds slot 0 of the real server."""
TIMINGS = {"cache_n": 0, "prompt_n": 5, "prompt_ms": 20.0, "predicted_n": 2,
           "predicted_ms": 30.0}  # fmt: skip
"""What the server reports it spent on each request: 50 ms of work."""


@dataclass
class LlamaWire:
    """State of the llama.cpp wire double (read and set by the tests)."""

    url: str = ""
    busy_slot: int | None = 0
    """Requests naming this slot wait ``HOLD_S`` (it serves another client)."""
    slots_status: int = 200
    """``GET /slots``: 200 with the slot list, or 501 as with ``--no-slots``."""
    busy_at_start: bool = False
    """``GET /slots`` reports ``busy_slot`` as processing."""
    total_slots: int = 2
    stall_until: float = 0.0
    """Requests arriving before this ``time.monotonic()`` wait until then (one long batch
    step of the server holds every new request, named or not)."""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    slot_checks: int = 0

    def named(self) -> list[int | None]:
        """The ``id_slot`` of each completion received, in order."""
        return [b.get("id_slot") for b in self.bodies if "prompt" in b]


def _completion(body: dict[str, Any]) -> dict[str, Any]:
    """A plain completion with llama.cpp's ``timings``."""
    return {
        "id": "c", "object": "text_completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "text": " 42", "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        "timings": TIMINGS,
    }  # fmt: skip


def _events() -> list[dict[str, Any]]:
    """A streamed completion as llama.cpp sends it: a token per event, then the finish
    with usage and ``timings`` on the last event."""
    out = []
    for i, piece in enumerate([" 4", "2"]):
        out.append({
            "id": "c", "object": "text_completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "text": piece, "finish_reason": None,
                         "logprobs": {"content": [{"id": 100 + i, "token": piece,
                                                   "logprob": -0.1,
                                                   "bytes": list(piece.encode())}]}}],
        })  # fmt: skip
    out.append({
        "id": "c", "object": "text_completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "text": "", "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        "timings": TIMINGS,
    })  # fmt: skip
    return out


def _slots(wire: LlamaWire) -> tuple[int, Any]:
    """``GET /slots`` as llama-server answers it (or its 501 under ``--no-slots``)."""
    wire.slot_checks += 1
    if wire.slots_status != 200:
        message = "This server does not support slots endpoint. Start it with `--slots`"
        error = {"code": 501, "message": message, "type": "not_supported_error"}
        return wire.slots_status, {"error": error}
    return 200, [
        {"id": i, "n_ctx": 4096, "speculative": False,
         "is_processing": wire.busy_at_start and i == wire.busy_slot}
        for i in range(wire.total_slots)
    ]  # fmt: skip


def _post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
    """The JSON answer to a POST other than a streamed completion."""
    if path == "/apply-template":
        text = "".join(f"<|{m['role']}|>{m['content']}\n" for m in body["messages"])
        return 200, {"prompt": text + "<|assistant|>"}
    if path == "/tokenize":
        return 200, {"tokens": list(range(len(body["content"].split())))}
    if path == "/v1/completions":
        return 200, _completion(body)
    return 404, {"error": {"code": 404, "message": "File Not Found"}}


def _handler(wire: LlamaWire) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _json(self, status: int, data: Any) -> None:
            out = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._json(200, {"status": "ok"})
            elif self.path == "/props":
                self._json(200, {"total_slots": wire.total_slots})
            elif self.path == "/slots":
                self._json(*_slots(wire))
            else:
                self._json(404, {"error": {"code": 404, "message": "File Not Found"}})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            wire.bodies.append(body)
            slot = body.get("id_slot")
            if wire.busy_slot is not None and slot == wire.busy_slot:
                time.sleep(HOLD_S)  # queued behind another client's generation
            time.sleep(max(0.0, wire.stall_until - time.monotonic()))
            if self.path != "/v1/completions" or not body.get("stream"):
                self._json(*_post(self.path, body))
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            for event in _events():
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.close_connection = True

    return Handler


@pytest.fixture()
def wire() -> Iterator[LlamaWire]:
    state = LlamaWire()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield state
    server.shutdown()
    server.server_close()


def _engine(wire: LlamaWire, mode: str = "auto") -> OpenAICompatEngine:
    return OpenAICompatEngine("openai-api/m", "m", wire.url, pin_slots_mode=mode)


async def _traffic(
    engine: OpenAICompatEngine,
    burst: int,
    then: int = 0,
    *,
    stream: bool = False,
    between: Callable[[], None] | None = None,
) -> None:
    """``burst`` completions at once (two slots: the first goes to slot 0, the others
    queue for slot 1 while it waits), then ``then`` more one after another."""

    async def one(i: int) -> None:
        if stream:
            await engine.complete_stream(f"p{i}", max_tokens=2, temperature=0.0)
        else:
            await engine.complete(f"p{i}", max_tokens=2, temperature=0.0)

    await engine.check()
    try:
        await asyncio.gather(*(one(i) for i in range(burst)))
        if between is not None:
            between()
        for i in range(then):
            await one(burst + i)
    finally:
        await engine.aclose()


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "sse"])
def test_llamacpp_wire_double_auto_unpins_after_a_pinned_request_waits_for_a_busy_slot(
    wire: LlamaWire, stream: bool
) -> None:
    engine = _engine(wire)
    started = time.perf_counter()
    asyncio.run(_traffic(engine, 4, 2, stream=stream))
    elapsed = time.perf_counter() - started
    # The first request went to slot 0 and waited behind the other client while the rest
    # were served on slot 1; after it nothing names a slot, so nothing waits again.
    named = wire.named()
    assert Counter(named[:4]) == {0: 1, 1: 3} and named[4:] == [None, None]
    assert HOLD_S <= elapsed < 2 * HOLD_S
    assert engine.pin_slots is False
    entry = engine.placement.describe(engine.pin_slots)
    assert entry["pinned"] is False and entry["pin_slots"] == "auto"
    assert entry["why"].startswith("slot 0 busy with another client: a request waited 2.")
    assert entry["why"].endswith("while 3 later request(s) were served on other slots")
    assert entry["start_check"] == "idle" and entry["pinned_requests"] == 4
    assert 2.0 < entry["max_wait_s"] < 2 * HOLD_S and entry["slow_requests"] == 1
    assert 2.0 < entry["dropped_after_s"] < 2 * HOLD_S


def test_llamacpp_wire_double_idle_slots_keep_pinning_under_auto(wire: LlamaWire) -> None:
    wire.busy_slot = None  # nobody else on the server
    engine = _engine(wire)
    asyncio.run(_traffic(engine, 0, 4))
    assert wire.named() == [0, 1, 0, 1]
    entry = engine.placement.describe(engine.pin_slots)
    assert entry == {"pin_slots": "auto", "pinned": True, "start_check": "idle",
                     "pinned_requests": 4}  # fmt: skip


def test_llamacpp_wire_double_a_step_that_holds_every_request_is_not_another_client(
    wire: LlamaWire,
) -> None:
    """On CPU one long batch step (a big prefill) holds every new request, named or not:
    the first requests wait ``HOLD_S`` alike, none of ours overtakes another: pinned."""
    wire.busy_slot = None
    engine = _engine(wire)

    async def go() -> None:
        await engine.check()
        wire.stall_until = time.monotonic() + HOLD_S
        await _traffic(engine, 4)

    asyncio.run(go())
    named = wire.named()
    assert len(named) == 4 and None not in named and 0 in named  # named throughout
    entry = engine.placement.describe(engine.pin_slots)
    assert entry["pinned"] is True and "why" not in entry and "slow_requests" not in entry


def test_llamacpp_wire_double_one_request_at_a_time_gives_no_evidence(wire: LlamaWire) -> None:
    engine = _engine(wire)
    asyncio.run(_traffic(engine, 0, 2))
    assert wire.named() == [0, 1]  # slot 0 was slow, but nothing of ours overtook it
    assert engine.placement.describe(engine.pin_slots)["pinned"] is True


def test_llamacpp_wire_double_busy_slots_at_start_mean_never_pinned(wire: LlamaWire) -> None:
    wire.busy_at_start = True
    engine = _engine(wire)
    started = time.perf_counter()
    asyncio.run(_traffic(engine, 3))
    assert wire.named() == [None, None, None]
    assert time.perf_counter() - started < HOLD_S  # never queued behind the other client
    entry = engine.placement.describe(engine.pin_slots)
    assert entry["pinned"] is False and entry["start_check"] == "busy"
    assert entry["why"] == "slot 0 busy with another client before the run started (GET /slots)"
    assert entry["pinned_requests"] == 0


def test_llamacpp_wire_double_without_slots_endpoint_skips_the_start_guard(
    wire: LlamaWire,
) -> None:
    wire.slots_status = 501  # llama-server --no-slots
    wire.busy_slot = None
    engine = _engine(wire)
    asyncio.run(_traffic(engine, 0, 2))
    assert wire.named() == [0, 1] and wire.slot_checks == 1
    assert engine.placement.describe(engine.pin_slots)["start_check"] == "unavailable"


def test_llamacpp_wire_double_pin_slots_on_keeps_pinning_through_a_slow_slot(
    wire: LlamaWire,
) -> None:
    wire.busy_at_start = True  # the start guard is not asked either
    engine = _engine(wire, "on")

    def stranger_leaves() -> None:
        wire.busy_slot = None

    asyncio.run(_traffic(engine, 3, 2, between=stranger_leaves))
    named = wire.named()
    assert Counter(named[:3]) == {0: 1, 1: 2} and named[3:] == [0, 1]  # named throughout
    assert wire.slot_checks == 0
    entry = engine.placement.describe(engine.pin_slots)
    assert entry["pinned"] is True and "why" not in entry
    assert entry["slow_requests"] == 1 and entry["pinned_requests"] == 5


def test_llamacpp_wire_double_pin_slots_off_never_names_a_slot(wire: LlamaWire) -> None:
    engine = _engine(wire, "off")
    asyncio.run(_traffic(engine, 3))
    assert wire.named() == [None, None, None] and wire.slot_checks == 0
    assert engine.concurrency_from == "server"  # the slot count is still read
    entry = engine.placement.describe(engine.pin_slots)
    assert entry == {"pin_slots": "off", "pinned": False, "why": "pin_slots: off",
                     "pinned_requests": 0}  # fmt: skip


def test_unpinned_slots_stop_holding_a_request_for_its_busy_home() -> None:
    """Pinned without spilling, a key's second request waits for its busy home slot;
    ``unpin`` (the drop) lets it take the idle slot at once, with no slot number."""

    async def go() -> list[tuple[str, int | None]]:
        slots = PrioritySlots(2, pinned=True, spill=False)
        seen: list[tuple[str, int | None]] = []
        release = asyncio.Event()

        async def hold(name: str, wait: asyncio.Event | None) -> None:
            async with slots.slot():
                seen.append((name, current_slot()))
                if wait is not None:
                    await wait.wait()

        with request_affinity("q"):
            first = asyncio.create_task(hold("trace", release))
            await asyncio.sleep(0.01)
            second = asyncio.create_task(hold("answer", None))
            await asyncio.sleep(0.05)
            assert seen == [("trace", 0)] and slots.waiting == 1  # held for slot 0
            slots.unpin()
            await asyncio.wait_for(second, 1.0)
            release.set()
            await first
        return seen

    assert asyncio.run(go()) == [("trace", 0), ("answer", None)]


def _config(wire: LlamaWire, out: Path) -> dict[str, Any]:
    """A forced-budget run on the wire double: a rendered prompt, one answer each."""
    return {"models": ["openai-api/m"], "base_url": wire.url, "budgets": "0", "samples": 4,
            "out": str(out), "report": False}  # fmt: skip


@pytest.mark.parametrize("at_start", [False, True], ids=["during", "at-start"])
def test_llamacpp_wire_double_run_records_placement_in_the_manifest(
    wire: LlamaWire, tmp_path: Path, at_start: bool
) -> None:
    wire.busy_at_start = at_start
    cfg = load_config(None, _config(wire, tmp_path / "r"))

    async def go() -> tuple[int, dict[str, Any]]:
        prepared = await prepare_run(cfg)
        stats = await execute(prepared)
        return stats.errors, placements(prepared.engines)

    errors, live = asyncio.run(go())
    assert errors == 0
    with Store.of_run(tmp_path / "r") as store:
        manifest = store.get_meta("manifest")
        records = list(store.records())
    assert len(records) == 16 and all(r.error is None for r in records)  # 4 knob levels
    assert manifest["placement"] == live
    entry = manifest["placement"]["openai-api/m"]
    assert entry["pinned"] is False and entry["pin_slots"] == "auto"
    if at_start:
        assert entry["start_check"] == "busy" and entry["pinned_requests"] == 0
        assert entry["why"].endswith("before the run started (GET /slots)")
        assert 0 not in wire.named() and 1 not in wire.named()
    else:
        assert entry["start_check"] == "idle" and entry["why"].startswith(
            "slot 0 busy with another client: a request waited 2."
        )
        # Only requests sent before the slow one came back named a slot.
        named = wire.named()
        assert named.count(0) == 1 and named[-1] is None  # the rest never waited for slot 0
    line = placement_warning(manifest["placement"])
    assert line is not None and "openai-api/m: slot 0 busy" in line


def test_llamacpp_wire_double_run_summary_says_pinning_was_dropped(
    wire: LlamaWire, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from overthink.cli.app import app

    args = ["run", "--model", "openai-api/m", "--base-url", wire.url, "--budgets", "0",
            "--samples", "2", "--out", str(tmp_path / "r"), "--no-report"]  # fmt: skip
    wire.busy_at_start = True
    dropped = CliRunner().invoke(app, args, catch_exceptions=False)
    assert dropped.exit_code == 0, dropped.output
    flat = " ".join(dropped.output.split())  # rich wraps long lines at the test's width
    assert flat.count("slots not named") == 1
    assert "openai-api/m: slot 0 busy with another client before the run" in flat
    wire.busy_at_start, wire.busy_slot = False, None
    kept = CliRunner().invoke(app, [*args[:-3], "--out", str(tmp_path / "k"), "--no-report"])
    assert kept.exit_code == 0, kept.output
    assert "slots not named" not in kept.output and "id_slot" not in kept.output


def test_wait_rule_needs_two_seconds_and_more_than_the_service_time() -> None:
    def slow(elapsed: float, prompt_ms: float, predicted_ms: float) -> bool:
        wait = server_wait(elapsed, {"timings": {"prompt_ms": prompt_ms,
                                                 "predicted_ms": predicted_ms}})  # fmt: skip
        assert wait is not None
        return wait.slow

    assert slow(2.3, 100.0, 100.0)  # 2.1 s queued for 0.2 s of work
    # Seen on our own server under load: 1.0 s for 0.3 s of work, 1.4 s for 2.2 s.
    assert not slow(1.3, 100.0, 200.0) and not slow(3.6, 200.0, 2000.0)
    assert not slow(7.0, 500.0, 3000.0)  # 3.5 s queued for 3.5 s of work: not clearly more
    assert slow(7.5, 500.0, 3000.0)
    assert server_wait(3.0, {"choices": []}) is None  # no timings: no verdict


def test_pin_slots_values_are_checked_with_the_field_named() -> None:
    with pytest.raises(ConfigError, match="pin_slots 'sometimes' is not one of auto, on, off"):
        SlotPlacement("sometimes")
    with pytest.raises(Exception, match="pin_slots") as info:
        ExperimentConfig.model_validate({"pin_slots": "yes"})
    assert "is not one of auto, on, off" in str(info.value)
    # Placement never changes what a trial is: the run name stays the same.
    assert ExperimentConfig(pin_slots="off").run_name() == ExperimentConfig().run_name()


def test_fleet_placement_is_recorded_per_endpoint() -> None:
    from overthink.engines.registry import EngineOptions, make_engine

    urls = ("http://127.0.0.1:9/v1", "http://127.0.0.1:10/v1")  # never contacted
    pool = make_engine("openai-api/m", EngineOptions(base_url=urls[0], base_urls=urls))
    entry = placement_of(pool)
    assert entry is not None and list(entry["endpoints"]) == list(urls)
    assert placement_warning({"openai-api/m": entry}) is None
    member = pool.endpoints[1].engine  # type: ignore[attr-defined]
    member.placement.why = "slot 2 busy with another client before the run started"
    line = placement_warning({"openai-api/m": placement_of(pool) or {}})
    assert line is not None and f"{urls[1]}: slot 2 busy" in line and urls[0] not in line
    asyncio.run(pool.aclose())


@pytest.mark.engine
def test_real_embedded_server_slot_hogged_by_another_client(
    embedded_server: EmbeddedServer,
) -> None:
    """Another client generates on slot 0 of the real server (ignore_eos): an engine that
    starts then does not pin; one already running pins a request to slot 0 that waits
    behind the other client while its others are served, then stops naming slots."""
    server = EmbeddedServer.shared(slots=embedded_server.slots)
    hog_done = threading.Event()

    def hog() -> None:
        # Streamed, and dropped after HOG_S: llama.cpp cancels a generation whose client
        # hung up, so the slot is held HOG_S long however fast this machine decodes.
        body = {"prompt": "Tell me a long story.", "n_predict": 4000, "id_slot": 0,
                "ignore_eos": True, "cache_prompt": False, "stream": True}  # fmt: skip
        request = urllib.request.Request(
            server.address + "/completion", json.dumps(body).encode(),
            {"Content-Type": "application/json"},
        )  # fmt: skip
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                while time.monotonic() - started < HOG_S and resp.readline():
                    pass
        finally:
            hog_done.set()

    def slot0_busy() -> bool:
        with urllib.request.urlopen(server.address + "/slots", timeout=5) as resp:
            return bool(json.loads(resp.read())[0]["is_processing"])

    async def go() -> tuple[EmbeddedEngine, EmbeddedEngine]:
        running = EmbeddedEngine(slots=server.slots)
        running.request_log = RequestLog()
        await running.check()  # before the other client came
        assert running.pin_slots
        thread = threading.Thread(target=hog, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not await asyncio.to_thread(slot0_busy):
            assert time.monotonic() < deadline and not hog_done.is_set()
            await asyncio.sleep(0.05)
        late = EmbeddedEngine(slots=server.slots)
        try:
            await late.check()
            # One request goes to slot 0 and waits; two more are served on slots 1 and 2.
            await asyncio.gather(
                *(running.complete(f"Hi {i}", max_tokens=2, temperature=0.0) for i in range(3))
            )
            await running.complete("Hi", max_tokens=2, temperature=0.0)
        finally:
            await asyncio.gather(running.aclose(), late.aclose())
            await asyncio.to_thread(thread.join, 60)
        return running, late

    running, late = asyncio.run(go())
    deadline = time.monotonic() + 10
    while slot0_busy():  # the hung-up generation was cancelled: later tests get slot 0
        assert time.monotonic() < deadline, "the other client's generation outlived it"
        time.sleep(0.05)
    assert late.pin_slots is False
    assert late.placement.describe(False)["start_check"] == "busy"
    assert running.request_log is not None
    slots = [r.slot for r in running.request_log.requests]
    assert sorted(slots[:3], key=str) == [0, 1, 2] and slots[3] is None
    assert slots[2] == 0  # the one on slot 0 came back last
    entry = running.placement.describe(running.pin_slots)
    assert entry["pinned"] is False and entry["why"].startswith("slot 0 busy with another client")
