"""End-to-end runs on the real embedded SmolLM2 (one shared server per session)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from helpers import by_trial, run_experiment
from overthink.engines.embedded import EmbeddedServer

pytestmark = pytest.mark.engine

SMALL = {"tasks": [{"name": "misleading_math", "knobs": {"distractors": [0, 3]}}], "samples": 2}


def test_forced_caps_are_honoured(embedded_server: EmbeddedServer, tmp_path: Path) -> None:
    _, stats, records = run_experiment(tmp_path / "r", budgets="0,8,24", **SMALL)
    assert stats.errors == 0 and len(records) == 12
    for r in records:
        assert r.error is None
        assert 0 <= r.reasoning_tokens <= r.budget_tokens
        assert r.resolved["reasoning_cap"] == r.budget_tokens
        assert not r.budget_violation
        assert r.response.startswith("Final answer:")
    assert all(
        r.reasoning_tokens == 0 and r.reasoning == "" for r in records if r.budget_tokens == 0
    )
    # An 8-token cap is always hit by this model, and reported as a cut inside thinking.
    assert all(r.truncated_in_reasoning for r in records if r.budget_tokens == 8)
    # Independently of our own accounting: the server's tokenizer on the recorded text.
    for r in records:
        if r.reasoning:
            assert _tokenize(embedded_server, r.reasoning) <= r.budget_tokens, r.reasoning


def _tokenize(server: EmbeddedServer, text: str) -> int:
    import urllib.request

    request = urllib.request.Request(
        server.address + "/tokenize",
        data=json.dumps({"content": text, "add_special": False}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return len(json.load(resp)["tokens"])


def test_wait_extension_stays_within_the_cap(
    embedded_server: EmbeddedServer, tmp_path: Path
) -> None:
    _, _, records = run_experiment(
        tmp_path / "r", budgets="24,48", min_tokens=40, max_waits=3, **SMALL
    )
    assert records and all(r.error is None for r in records)
    for r in records:
        assert r.reasoning_tokens <= r.budget_tokens
        # A minimum with waits depends on the cap, so these trials cannot share a trace.
        assert not r.resolved.get("prefix_shared", False)
        if r.resolved["waits_used"]:
            assert "Wait" in r.reasoning
    # SmolLM2 often ends its thinking early; the minimum makes it continue with "Wait".
    assert any(r.resolved["waits_used"] > 0 for r in records)


def test_same_config_and_seed_give_identical_records(
    embedded_server: EmbeddedServer, tmp_path: Path
) -> None:
    kwargs = {**SMALL, "budgets": "0,16", "deterministic": True}
    _, _, first = run_experiment(tmp_path / "a", **kwargs)
    _, _, second = run_experiment(tmp_path / "b", **kwargs)
    a, b = by_trial(first), by_trial(second)
    assert a.keys() == b.keys() and len(a) == 8
    fields = ("reasoning", "response", "answer", "score", "reasoning_tokens", "answer_tokens")
    for tid in a:
        assert [getattr(a[tid], f) for f in fields] == [getattr(b[tid], f) for f in fields]
        assert a[tid].resolved["deterministic"] is True
        assert a[tid].resolved["answer_request"]["cache_prompt"] is False


def test_prefix_shared_sweep_equals_separate_runs(
    embedded_server: EmbeddedServer, tmp_path: Path
) -> None:
    kwargs = {
        "tasks": [{"name": "misleading_math", "knobs": {"distractors": [1, 3]}}],
        "samples": 3,
        "budgets": "0,8,16,32",
        "deterministic": True,
    }
    _, shared_stats, shared = run_experiment(tmp_path / "shared", **kwargs)
    _, separate_stats, separate = run_experiment(
        tmp_path / "separate", prefix_sharing=False, **kwargs
    )
    s, p = by_trial(shared), by_trial(separate)
    assert s.keys() == p.keys() and len(s) == 24
    for tid in s:
        assert s[tid].resolved["prefix_shared"] is True
        assert "prefix_shared" not in p[tid].resolved
        assert s[tid].reasoning == p[tid].reasoning
        assert s[tid].response == p[tid].response
        assert s[tid].reasoning_tokens == p[tid].reasoning_tokens
        assert s[tid].truncated_in_reasoning == p[tid].truncated_in_reasoning
    # Without prefix sharing the flags are right on their own: no thinking at budget 0, the
    # 8-token cap always reached by this model, and a cut only where the cap was reached.
    for r in separate:
        if r.truncated_in_reasoning:
            assert r.reasoning_tokens == r.budget_tokens > 0
    assert all(r.truncated_in_reasoning for r in separate if r.budget_tokens == 8)
    assert not any(r.truncated_in_reasoning for r in separate if r.budget_tokens == 0)
    # One trace per question instead of one per budget.
    assert shared_stats.generated_tokens < separate_stats.generated_tokens


def test_export_prints_the_public_fields(tmp_path: Path) -> None:
    # Export logic only: a scripted fake engine stands in for the model.
    from overthink.testing import FakeEngine
    from overthink.testing import run_experiment as run_on

    run_on({"out": str(tmp_path / "r"), "report": False, "budgets": "4", **SMALL}, FakeEngine())
    proc = subprocess.run(
        [sys.executable, "-m", "overthink", "export", str(tmp_path / "r"), "--format", "jsonl"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 4
    required = {
        "run", "trial_id", "task", "sample_id", "model", "budget_mode", "budget_tokens",
        "resolved", "sample_index", "seed", "prompt_tokens", "reasoning_tokens",
        "answer_tokens", "reasoning", "response", "answer", "target", "score", "meta",
        "finish_reason", "truncated_in_reasoning", "latency_s", "error",
    }  # fmt: skip
    for row in rows:
        assert required <= row.keys()
        assert row["meta"]["distractors"] in (0, 3)
        assert row["prompt_tokens"] > 0


def _interrupted_run(
    tmp_path: Path, interrupt: Callable[[subprocess.Popen[bytes]], None]
) -> tuple[list[str], dict[str, str], Path, dict[str, str], bytes]:
    """Start an 18-trial run, interrupt it once >= 4 trials are stored.

    Returns the command, its environment, the store path, the records stored before the
    interruption (trial id -> JSON) and the interrupted process's stderr.
    """
    import sqlite3
    import time

    out = tmp_path / "run"
    args = [
        sys.executable, "-m", "overthink", "run", "--samples", "3", "--budgets", "0,16,32",
        "-T", "distractors=0,1", "--out", str(out), "--no-report", "--concurrency", "2",
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    db = out / "store.sqlite"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if (
                db.exists()
                and sqlite3.connect(db).execute("SELECT COUNT(*) FROM records").fetchone()[0] >= 4
            ):
                break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.05)
    interrupt(proc)
    _, err = proc.communicate(timeout=60)
    before = dict(sqlite3.connect(db).execute("SELECT trial_id, data FROM records").fetchall())
    assert 0 < len(before) < 18, "the run should be interrupted part-way"
    return args, env, db, before, err


def _resume_completes_without_rework(
    args: list[str], env: dict[str, str], db: Path, before: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    import sqlite3

    resumed = subprocess.run(args, capture_output=True, text=True, env=env, timeout=900)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(before)} already stored" in resumed.stderr.replace("\n", " ")
    after = dict(sqlite3.connect(db).execute("SELECT trial_id, data FROM records").fetchall())
    assert len(after) == 18
    for tid, data in before.items():
        assert after[tid] == data  # finished work is never redone or rewritten
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return resumed


def test_kill_9_then_resume_loses_and_repeats_nothing(tmp_path: Path) -> None:
    # SIGKILL: no cleanup, no chance to flush anything.
    args, env, db, before, _ = _interrupted_run(tmp_path, lambda p: p.kill())
    resumed = _resume_completes_without_rework(args, env, db, before)
    # Piped stderr gets plain progress lines (rich would print only its final frame).
    assert "trials 18/18 · " in resumed.stderr and " ETA " in resumed.stderr, resumed.stderr


def test_ctrl_c_then_resume_loses_and_repeats_nothing(tmp_path: Path) -> None:
    import signal

    # SIGINT is what Ctrl-C sends.
    args, env, db, before, err = _interrupted_run(tmp_path, lambda p: p.send_signal(signal.SIGINT))
    assert b"Traceback" not in err, err.decode()
    _resume_completes_without_rework(args, env, db, before)
