"""Bad-input battery: configs, flags, task files, stores and output paths.

Every case must end with exit code 2 and one line naming the problem, no traceback, no
engine started and nothing half-written (no run folder, no output file, no analysis).
The cases run in-process through typer's CliRunner, mapping errors exactly as the
``overthink`` entry point does (an OverthinkError is one line on stderr and exit 2); any
other exception is a traceback and fails the case. A few run as real subprocesses at the
end, to check the entry point itself.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from overthink.cli.app import app
from overthink.core import Record
from overthink.errors import OverthinkError
from overthink.experiment.store import Store

runner = CliRunner()


def invoke(args: list[str]) -> tuple[int, str]:
    """(exit code, message) as ``overthink`` would give them; tracebacks propagate."""
    result = runner.invoke(app, args, catch_exceptions=True)
    exc = result.exception
    if isinstance(exc, OverthinkError):
        return 2, str(exc)
    if exc is not None and not isinstance(exc, SystemExit):
        raise exc
    return result.exit_code, result.output


def _records(n: int = 6) -> list[Record]:
    return [
        Record(
            run="r",
            trial_id=f"t{i}",
            task="misleading_math",
            sample_id=f"q{i % 3}",
            model="embedded",
            budget_mode="forced",
            budget_tokens=32 * (1 + i % 2),
            answer="2",
            score=float(i % 2),
            reasoning_tokens=30,
            answer_tokens=3,
            meta={"distractors": 0},
        )
        for i in range(n)
    ]


def good_run(root: Path) -> Path:
    """A valid run folder with a few records."""
    run = root / "good"
    run.mkdir()
    with Store.of_run(run, readonly=False) as store:
        store.add_many(_records())
    return run


def _store_with(root: Path, damage: Callable[[Path], None]) -> Path:
    run = good_run(root)
    damage(run / "store.sqlite")
    return run


def _sql(statement: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        with sqlite3.connect(path) as db:
            db.execute(statement)
        # Fold the WAL back in, so the damage is in the file itself.
        sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()

    return damage


def _truncate(path: Path) -> None:
    sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    for extra in ("-wal", "-shm"):
        Path(str(path) + extra).unlink(missing_ok=True)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _random(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def _zero(path: Path) -> None:
    path.write_bytes(b"")


def _foreign(path: Path) -> None:
    path.unlink()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE records (id INTEGER PRIMARY KEY, payload BLOB)")


@dataclass
class Case:
    args: list[str]
    needle: str
    files: dict[str, bytes | str] = field(default_factory=dict)
    """Files to create under the case folder first (name -> content)."""
    setup: Callable[[Path], object] | None = None
    """Extra preparation; receives the case folder."""
    absent: tuple[str, ...] = ("out",)
    """Paths (relative to the case folder) that must not exist afterwards."""


def _cfg(text: str) -> dict[str, bytes | str]:
    return {"exp.yaml": text}


RUN = ["run", "--budgets", "none", "--samples", "1", "--out", "{d}/out", "--no-report"]
CONFIG_RUN = ["run", "--config", "{d}/exp.yaml", "--out", "{d}/out"]

CASES: dict[str, Case] = {
    # Config files
    "config not utf-8": Case(CONFIG_RUN, "not UTF-8", {"exp.yaml": b"name: caf\xe9\nsamples: 2\n"}),
    "config is a folder": Case(["run", "--config", "{d}", "--out", "{d}/out"], "is a folder"),
    "config missing": Case(
        ["run", "--config", "{d}/nope.yaml", "--out", "{d}/out"], "does not exist"
    ),
    "config bad yaml": Case(CONFIG_RUN, "not valid YAML", _cfg("samples: [1, 2\nseed: {\n")),
    "config top-level list": Case(CONFIG_RUN, "mapping", _cfg("- a\n- b\n")),
    "config unknown key": Case(CONFIG_RUN, "unknown key 'sample'", _cfg("sample: 3\n")),
    "config unknown task key": Case(
        CONFIG_RUN, "unknown key", _cfg("tasks: [{name: misleading_math, knob: {}}]\n")
    ),
    "config samples 0": Case(CONFIG_RUN, "samples", _cfg("samples: 0\n")),
    "config samples absurd": Case(CONFIG_RUN, "samples: 100000000", _cfg("samples: 100000000\n")),
    "config samples not int": Case(CONFIG_RUN, "samples", _cfg("samples: many\n")),
    "config budgets empty": Case(CONFIG_RUN, "budgets", _cfg("budgets: []\n")),
    "config negative temperature": Case(CONFIG_RUN, "temperature", _cfg("temperature: -1\n")),
    "config concurrency 0": Case(CONFIG_RUN, "concurrency", _cfg("concurrency: 0\n")),
    "config no models": Case(CONFIG_RUN, "models", _cfg("models: []\n")),
    "config read timeout 0": Case(CONFIG_RUN, "read_timeout_s", _cfg("read_timeout_s: 0\n")),
    "config connect timeout negative": Case(
        CONFIG_RUN, "connect_timeout_s", _cfg("connect_timeout_s: -5\n")
    ),
    "config retries absurd": Case(CONFIG_RUN, "max_retries", _cfg("max_retries: 1000\n")),
    "config half markers": Case(CONFIG_RUN, "think_open", _cfg("think_open: '<t>'\n")),
    "config prompt variant": Case(CONFIG_RUN, "prompt_variant", _cfg("prompt_variant: loud\n")),
    "config native style": Case(CONFIG_RUN, "native_style", _cfg("native_style: psychic\n")),
    "config pin slots": Case(CONFIG_RUN, "pin_slots", _cfg("pin_slots: sometimes\n")),
    "config huge plan": Case(
        CONFIG_RUN, "the plan has", _cfg("samples: 1000000\nsamples_per_question: 10000\n")
    ),
    # Flags
    "budget overflow": Case([*RUN, "--budgets", "99999999999999999999999"], "budgets"),
    "budget not a number": Case([*RUN, "--budgets", "0,abc"], "budgets"),
    "budget unknown mode": Case([*RUN, "--budgets", "0,bogus:5"], "unknown budget mode"),
    "budget negative": Case([*RUN, "--budgets", "forced:-5"], ">= 0"),
    "samples absurd flag": Case([*RUN, "--samples", "100000000"], "samples"),
    "samples per question absurd": Case([*RUN, "-n", "100000"], "samples_per_question"),
    "read timeout flag 0": Case([*RUN, "--read-timeout", "0"], "read_timeout_s"),
    "pin slots flag": Case([*RUN, "--pin-slots", "yes"], "pin_slots"),
    "max retries negative": Case([*RUN, "--max-retries", "-1"], "max_retries"),
    "unknown knob": Case([*RUN, "-T", "colour=1"], "colour"),
    "bad knob level": Case([*RUN, "-T", "distractors=many"], "distractors"),
    "knob without value": Case([*RUN, "-T", "distractors"], "knob=value"),
    "unknown task": Case([*RUN, "--task", "nope"], "unknown task 'nope'"),
    "unknown model": Case([*RUN, "--model", "gpt-7"], "unknown model 'gpt-7'"),
    "openai-api without url": Case([*RUN, "--model", "openai-api/x"], "--base-url"),
    "missing gguf": Case([*RUN, "--model", "llamacpp/{d}/nowhere.gguf"], "does not exist"),
    "unknown verifier": Case([*RUN, "--verifier", "oracle"], "oracle"),
    "unknown strategy": Case([*RUN, "-n", "2", "--strategy", "telepathy"], "telepathy"),
    # Task files
    "jsonl missing": Case([*RUN, "--task", "jsonl:{d}/none.jsonl"], "no such file"),
    "jsonl bad json": Case(
        [*RUN, "--task", "jsonl:{d}/t.jsonl"],
        "line 2",
        {"t.jsonl": '{"prompt": "a", "answer": "1"}\n{oops\n'},
    ),
    "jsonl missing field": Case(
        [*RUN, "--task", "jsonl:{d}/t.jsonl"], "prompt", {"t.jsonl": '{"answer": "1"}\n'}
    ),
    "jsonl not utf-8": Case(
        [*RUN, "--task", "jsonl:{d}/t.jsonl"],
        "not UTF-8",
        {"t.jsonl": b'{"prompt": "caf\xe9", "answer": "1"}\n'},
    ),
    "jsonl empty": Case([*RUN, "--task", "jsonl:{d}/t.jsonl"], "empty", {"t.jsonl": ""}),
    # Output paths
    "out is a file": Case(
        [*RUN[:-3], "--out", "{d}/f", "--no-report"], "not a folder", {"f": "x"}, absent=()
    ),
    "out under a file": Case(
        [*RUN[:-3], "--out", "{d}/f/sub", "--no-report"],
        "not a folder",
        {"f": "x"},
        absent=("f/sub",),
    ),
    "out not writable": Case(
        [*RUN[:-3], "--out", "/proc/overthink-x", "--no-report"], "cannot be written", absent=()
    ),
    "out locked by another run": Case(
        [*RUN[:-3], "--out", "{d}/held", "--no-report"],
        "is in use by pid",
        setup=lambda d: _hold(d / "held"),
        absent=("held/store.sqlite",),
    ),
    "export to missing folder": Case(
        ["export", "{d}/good", "-o", "{d}/missing/x.jsonl"],
        "does not exist",
        setup=good_run,
        absent=("missing",),
    ),
    "export to a folder": Case(["export", "{d}/good", "-o", "{d}"], "is a folder", setup=good_run),
    "export bad format": Case(["export", "{d}/good", "--format", "xml"], "xml", setup=good_run),
    "export missing run": Case(["export", "{d}/nowhere"], "not a run folder"),
    # Stores
    "analyze random bytes": Case(
        ["analyze", "{d}/good"],
        "not a database",
        setup=lambda d: _store_with(d, _random),
        absent=("good/analysis",),
    ),
    "report zero bytes": Case(
        ["report", "{d}/good"],
        "no records table",
        setup=lambda d: _store_with(d, _zero),
        absent=("good/report.html",),
    ),
    "export truncated store": Case(
        ["export", "{d}/good", "-o", "{d}/x.jsonl"],
        "malformed",
        setup=lambda d: _store_with(d, _truncate),
        absent=("x.jsonl", "x.jsonl.tmp"),
    ),
    "analyze bad json row": Case(
        ["analyze", "{d}/good"],
        "row 't3' cannot be read",
        setup=lambda d: _store_with(d, _sql("UPDATE records SET data='{bad' WHERE trial_id='t3'")),
        absent=("good/analysis",),
    ),
    "export row not an object": Case(
        ["export", "{d}/good", "-o", "{d}/x.csv", "--format", "csv"],
        "not an object",
        setup=lambda d: _store_with(d, _sql("UPDATE records SET data='[1]' WHERE trial_id='t1'")),
        absent=("x.csv", "x.csv.tmp"),
    ),
    "report foreign sqlite": Case(
        ["report", "{d}/good"],
        "another shape",
        setup=lambda d: _store_with(d, _foreign),
        absent=("good/report.html",),
    ),
    "analyze missing run": Case(["analyze", "{d}/nowhere"], "does not exist"),
    "analyze folder without store": Case(["analyze", "{d}"], "store.sqlite"),
    "prices malformed yaml": Case(
        ["analyze", "{d}/good", "--prices", "{d}/p.yaml"],
        "line 2",
        {"p.yaml": "embedded: 1\n  bad: [\n"},
        setup=good_run,
        absent=("good/analysis",),
    ),
    "prices not numbers": Case(
        ["analyze", "{d}/good", "--prices", "{d}/p.yaml"],
        "not a number",
        {"p.yaml": "embedded: cheap\n"},
        setup=good_run,
        absent=("good/analysis",),
    ),
    "prices is a folder": Case(
        ["analyze", "{d}/good", "--prices", "{d}"],
        "is a folder",
        setup=good_run,
        absent=("good/analysis",),
    ),
    "unknown cost axis": Case(
        ["analyze", "{d}/good", "--cost", "karma"],
        "karma",
        setup=good_run,
        absent=("good/analysis",),
    ),
    "shapes missing field": Case(
        ["report", "{d}/good", "--shapes", "{d}/s.yaml"],
        "missing",
        {"s.yaml": "embedded: {params: 1}\n"},
        setup=good_run,
        absent=("good/report.html",),
    ),
}


_HELD: list[Any] = []


def _hold(folder: Path) -> None:
    from overthink.experiment.lock import RunLock

    folder.mkdir()
    lock = RunLock(folder)
    lock.acquire()
    _HELD.append(lock)


def test_the_battery_is_large_enough() -> None:
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    for rel, content in case.files.items():
        target = tmp_path / rel
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    if case.setup is not None:
        case.setup(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    args = [a.replace("{d}", str(tmp_path)) for a in case.args]
    try:
        code, message = invoke(args)
    finally:
        while _HELD:
            _HELD.pop().release()
    assert code == 2, message
    assert case.needle in message, message
    assert "\n" not in message.strip() and "Traceback" not in message
    for rel in case.absent:
        assert not (tmp_path / rel).exists(), f"{rel} was left behind"
    after = sorted(p.name for p in tmp_path.rglob("*") if ".overthink-probe" not in p.name)
    assert not [p for p in after if p.endswith(".tmp")]
    if not case.absent:
        assert after == before  # nothing at all was written


# The real entry point, in a subprocess: the same mapping, and stderr is one line.
ENTRY_CASES = {
    "config not utf-8": (["run", "--config", "exp.yaml", "--out", "out"], "not UTF-8"),
    "export to missing folder": (["export", "good", "-o", "missing/x.jsonl"], "does not exist"),
    "corrupt store": (["analyze", "good"], "not a database"),
}


@pytest.mark.parametrize("name", sorted(ENTRY_CASES))
def test_entry_point_prints_one_line(name: str, tmp_path: Path) -> None:
    args, needle = ENTRY_CASES[name]
    (tmp_path / "exp.yaml").write_bytes(b"name: caf\xe9\n")
    run = good_run(tmp_path)
    if name == "corrupt store":
        _random(run / "store.sqlite")
    proc = subprocess.run(
        [sys.executable, "-m", "overthink", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={**os.environ, "COLUMNS": "60"},
    )
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "missing").exists()


def test_skip_bad_rows_reports_ids_and_analyses_the_rest(tmp_path: Path) -> None:
    run = _store_with(tmp_path, _sql("UPDATE records SET data='{bad' WHERE trial_id='t3'"))
    code, _ = invoke(["export", str(run), "-o", str(tmp_path / "x.jsonl"), "--skip-bad-rows"])
    assert code == 0
    lines = (tmp_path / "x.jsonl").read_text().splitlines()
    assert len(lines) == 5 and all(json.loads(line)["trial_id"] != "t3" for line in lines)
    result = runner.invoke(app, ["analyze", str(run), "--skip-bad-rows", "--n-boot", "50"])
    assert result.exit_code == 0, result.output
    assert "skipped 1 unreadable store row(s): t3" in result.output
