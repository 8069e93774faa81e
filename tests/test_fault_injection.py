"""What the outside world sends, through a fault-injecting proxy in front of the real
embedded llama.cpp server: bad bodies, hung and flaky servers, hostile text, a guarded
server, two runs on one folder. Nothing may crash a run; every trial ends scored or
error-flagged; a clean resume completes the rest; retries in records match retries made.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from faultproxy import ALL_FAULTS, RETRYABLE, Chooser, FaultProxy
from helpers import run_experiment
from overthink.cli.app import app
from overthink.core import Record
from overthink.engines.embedded import EmbeddedServer
from overthink.errors import OverthinkError
from overthink.experiment.config import load_config
from overthink.experiment.lock import RunLocked
from overthink.experiment.runner import RunStats
from overthink.experiment.session import execute, prepare_run
from overthink.experiment.store import Store

pytestmark = pytest.mark.engine

MODEL = "openai-api/smollm2"
BASE = {
    "models": [MODEL],
    "tasks": [{"name": "misleading_math", "knobs": {"distractors": [0]}}],
    "max_answer_tokens": 12,
    "connect_timeout_s": 5.0,
}


@pytest.fixture
def upstream(embedded_server: EmbeddedServer) -> str:
    return embedded_server.address


@contextmanager
def _proxy(upstream: str, choose: Chooser, **kwargs: Any) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream, choose, **kwargs)
    try:
        yield proxy
    finally:
        proxy.close()


def _max_tokens(body: bytes) -> int | None:
    found = re.search(rb'"max_tokens":\s*(\d+)', body)
    return int(found.group(1)) if found else None


def _scored_or_flagged(records: list[Record]) -> None:
    for record in records:
        assert (record.error is None) != (record.score is None and record.answer is None), record


def test_every_bad_body_kind_is_retried_and_counted(upstream: str, tmp_path: Path) -> None:
    """Each retryable fault once, on separate calls: all retried, no trial lost, and the
    records' retries add up to the faults injected."""
    kinds = list(RETRYABLE)

    def choose(n: int, path: str, body: bytes) -> str | None:
        # Odd POSTs only: the retry of a faulted call (the next POST) goes through.
        return kinds[(n - 1) // 2] if n % 2 == 1 and (n - 1) // 2 < len(kinds) else None

    with _proxy(upstream, choose, hang_s=5.0) as proxy:
        _, stats, records = run_experiment(
            tmp_path / "r", base_url=proxy.url, budgets="none,8,16", samples=2,
            concurrency=1, max_retries=3, read_timeout_s=4.0, **BASE,
        )  # fmt: skip
        assert proxy.injected == dict.fromkeys(kinds, 1)
        assert stats.errors == 0, [r.error for r in records if r.error]
        assert len(records) == 6
        assert sum(r.retries for r in records) == len(kinds)


def test_a_body_that_stays_bad_fails_only_its_trial(upstream: str, tmp_path: Path) -> None:
    """Garbage on every call with an 8-token cap: that trial fails with an error that
    quotes what the server sent; the other budgets of the question are scored."""

    def choose(n: int, path: str, body: bytes) -> str | None:
        return "garbage" if _max_tokens(body) == 8 else None

    with _proxy(upstream, choose) as proxy:
        _, stats, records = run_experiment(
            tmp_path / "r", base_url=proxy.url, budgets="8,16", samples=1, concurrency=1,
            max_retries=1, prefix_sharing=False, **BASE,
        )  # fmt: skip
    by_budget = {r.budget_tokens: r for r in records}
    failed = by_budget[8]
    assert failed.error is not None and "BadResponse" in failed.error
    assert "upstream exploded" in failed.error  # what the server sent, quoted
    assert "\x00" not in failed.error  # quoted via repr: control codes escaped
    assert failed.retries == 1
    assert by_budget[16].error is None and by_budget[16].score is not None
    assert stats.errors == 1


def test_a_failed_shared_sweep_falls_back_to_single_trials(upstream: str, tmp_path: Path) -> None:
    """An answer call of a shared sweep fails for good (empty choices twice with one
    retry allowed): the group is rerun trial by trial instead of all failing, and the
    retries of both attempts are in the records."""
    seen = {"answers": 0}

    def choose(n: int, path: str, body: bytes) -> str | None:
        if path.endswith("/completions") and _max_tokens(body) == 12:
            seen["answers"] += 1
            return "empty_choices" if seen["answers"] <= 2 else None
        return None

    with _proxy(upstream, choose) as proxy:
        _, stats, records = run_experiment(
            tmp_path / "r", base_url=proxy.url, budgets="8,16", samples=1, concurrency=1,
            max_retries=1, **BASE,
        )  # fmt: skip
        assert proxy.injected["empty_choices"] == 2
    assert stats.errors == 0, [r.error for r in records]
    # Two faults on one call: one retry made, then the call gave up (not a retry).
    assert sum(r.retries for r in records) == 1


def test_lone_surrogates_and_control_codes_are_stored_and_flagged(
    upstream: str, tmp_path: Path
) -> None:
    """A lone surrogate used to kill the run at the SQLite write (and its resume)."""
    cycle = ["surrogate", "nul", "escape"]

    def choose(n: int, path: str, body: bytes) -> str | None:
        return cycle[n % 3] if path.startswith("/v1/") else None

    run = tmp_path / "r"
    with _proxy(upstream, choose) as proxy:
        _, stats, records = run_experiment(
            run, base_url=proxy.url, budgets="none,16", samples=2, concurrency=1, **BASE
        )
        assert proxy.injected["surrogate"] > 0
        assert stats.errors == 0
        repaired = [r for r in records if r.text_repaired]
        assert repaired and all("\ufffd" in r.response + r.reasoning for r in repaired)
        # The resume reads the store back and finds nothing to do.
        _, again, _ = run_experiment(
            run, base_url=proxy.url, budgets="none,16", samples=2, concurrency=1, **BASE
        )
        assert again.done == 0 and again.skipped == 4
    # Export never writes raw terminal codes: CSV escapes them visibly, JSONL as JSON.
    runner = CliRunner()
    csv_out = runner.invoke(app, ["export", str(run), "--format", "csv", "--all"]).output
    assert "\x1b" not in csv_out and "\x07" not in csv_out and "\x00" not in csv_out
    assert "\\x1b[31mred" in csv_out
    jsonl = runner.invoke(app, ["export", str(run)]).output
    assert "\x1b" not in jsonl and "\\u001b[31mred" in jsonl
    assert all(json.loads(line)["trial_id"] for line in jsonl.splitlines())


def test_server_endpoints_get_the_api_key(
    upstream: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """llama.cpp with --api-key guards /apply-template, /tokenize and /props too: forced
    trials used to fail with 401 there."""
    monkeypatch.setenv("OVERTHINK_API_KEY", "sk-test-0123456789")
    with _proxy(upstream, lambda n, p, b: None, require_auth="sk-test-0123456789") as proxy:
        _, stats, records = run_experiment(
            tmp_path / "r", base_url=proxy.url, budgets="16", samples=1, concurrency=1, **BASE
        )
        assert stats.errors == 0, records[0].error
        assert proxy.auth_headers and all(
            h == "Bearer sk-test-0123456789" for h in proxy.auth_headers[1:]
        )
    assert "sk-test" not in json.dumps([r.model_dump() for r in records])


def test_a_hung_server_costs_the_configured_timeouts_only(upstream: str, tmp_path: Path) -> None:
    """Every POST hangs: each trial ends as a timeout error after (retries + 1) × the read
    timeout, not 600 s × 5."""
    with _proxy(upstream, lambda n, p, b: "hang", hang_s=3.0) as proxy:
        started = time.monotonic()
        _, stats, records = run_experiment(
            tmp_path / "r", base_url=proxy.url, budgets="none", samples=2, concurrency=2,
            max_retries=1, read_timeout_s=0.5, **BASE,
        )  # fmt: skip
        elapsed = time.monotonic() - started
    assert stats.errors == 2
    assert all("Timeout" in (r.error or "") and r.retries == 1 for r in records)
    assert elapsed < 20


def test_a_second_run_on_the_same_folder_stops_or_waits(upstream: str, tmp_path: Path) -> None:
    """Two runs on one folder used to both run every trial."""
    run = tmp_path / "r"
    with _proxy(upstream, lambda n, p, b: None, delay_s=0.4) as proxy:
        cfg = load_config(
            None,
            {"out": str(run), "report": False, "base_url": proxy.url, "budgets": "none",
             "samples": 3, "concurrency": 1, **BASE},
        )  # fmt: skip
        first: dict[str, RunStats] = {}

        def run_first() -> None:
            async def go() -> RunStats:
                return await execute(await prepare_run(cfg))

            first["stats"] = asyncio.run(go())

        thread = threading.Thread(target=run_first)
        thread.start()
        deadline = time.monotonic() + 60
        while not (run / "store.sqlite").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

        async def second(wait: bool) -> RunStats:
            return await execute(await prepare_run(cfg, wait=wait))

        with pytest.raises(RunLocked, match=r"is in use by pid \d+"):
            asyncio.run(second(wait=False))
        stats = asyncio.run(second(wait=True))  # waits for the first, then resumes
        thread.join(120)
    assert stats.done == 0 and stats.skipped == 3
    assert first["stats"].done == 3
    with Store.of_run(run) as store:
        assert store.count() == 3
    assert isinstance(RunLocked("x"), OverthinkError)


def test_twenty_percent_faults_of_every_kind_then_a_clean_resume(
    upstream: str, tmp_path: Path
) -> None:
    """~20 % of POSTs get a random fault of any kind (few retries allowed, short
    timeouts): the run never crashes, every planned trial ends scored or error-flagged,
    and a clean resume completes what failed."""
    rng = random.Random(17)
    state = {"on": True}

    def choose(n: int, path: str, body: bytes) -> str | None:
        if not state["on"] or rng.random() >= 0.2:
            return None
        return rng.choice(ALL_FAULTS)

    run = tmp_path / "r"
    settings = {
        "base_url": "", "budgets": "none,8,16", "samples": 3, "concurrency": 2,
        "max_retries": 1, "read_timeout_s": 4.0, **BASE,
    }  # fmt: skip
    with _proxy(upstream, choose, hang_s=5.0) as proxy:
        settings["base_url"] = proxy.url
        _, first, records = run_experiment(run, **settings)
        assert sum(proxy.injected.values()) > 0
        assert first.planned == 9 and len(records) == 9
        _scored_or_flagged(records)
        errors = [r for r in records if r.error is not None]
        print("injected:", dict(proxy.injected), "errors:", [r.error for r in errors])
        assert first.errors == len(errors)
        for record in errors:
            assert record.error and "\n" not in record.error.strip()
        state["on"] = False
        _, second, records = run_experiment(run, **settings)
    leftover = [r.error for r in records if r.error is not None]
    assert second.done == len(errors) and second.errors == 0, (second, leftover)
    assert len(records) == 9 and not leftover
