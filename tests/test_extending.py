"""docs/extending.md, done for real: one file + one registration line per kind, users' own
task files (``file.py@name``) and entry-point plugins, a broken one included.

The worked examples are taken from the doc itself (each ``<!-- file: x.py -->`` block),
written to a package and imported exactly as the doc's registration line imports them,
so the doc cannot drift from what works.
"""

from __future__ import annotations

import importlib
import re
import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from typer.testing import CliRunner

from helpers import run_experiment
from overthink.cli import main
from overthink.cli.app import app
from overthink.engines import registry as engine_registry
from overthink.engines.embedded import EmbeddedServer
from overthink.engines.registry import EngineOptions, get_provider, provider_help
from overthink.errors import ConfigError
from overthink.experiment.store import Store
from overthink.plugins import plugin_errors, reset_plugins
from overthink.strategies import registry as strategy_registry
from overthink.strategies import strategy_names, verifier_names
from overthink.strategies.verifiers import registry as verifier_registry
from overthink.tasks import registry as task_registry
from overthink.tasks.registry import get_task, task_names

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "extending.md"
_FILE_BLOCK = re.compile(r"<!-- file: (?P<name>[\w.]+) -->\n```python\n(?P<code>.*?)```", re.S)
runner = CliRunner()


@pytest.fixture
def registries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Whatever a test registers is gone afterwards (the registries are process-wide)."""
    # Fill the built-ins first, so the snapshot holds them.
    task_names(), engine_registry.providers(), verifier_names(), strategy_names()
    saved: list[tuple[dict[str, Any], dict[str, Any]]] = [
        (task_registry._REGISTRY, dict(task_registry._REGISTRY)),
        (task_registry._FILE_TASKS, dict(task_registry._FILE_TASKS)),
        (engine_registry._PROVIDERS, dict(engine_registry._PROVIDERS)),
        (verifier_registry._VERIFIERS, dict(verifier_registry._VERIFIERS)),
        (strategy_registry._STRATEGIES, dict(strategy_registry._STRATEGIES)),
    ]
    modules = set(sys.modules)
    yield
    for live, copy in saved:
        live.clear()
        live.update(copy)
    for name in set(sys.modules) - modules:
        if name.startswith(("ot_doc_ext", "ot_plugin")):
            del sys.modules[name]
    reset_plugins()  # the next load re-reads entry points without the test's plugins


def _doc_examples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, ModuleType]:
    """Write the doc's four example files as a package and import each one (the doc's
    registration line is exactly such an import)."""
    blocks = {m["name"]: m["code"] for m in _FILE_BLOCK.finditer(DOC.read_text("utf-8"))}
    assert set(blocks) == {"say_number.py", "echo_engine.py", "is_number.py", "last_sample.py"}
    package = tmp_path / "ot_doc_ext"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, code in blocks.items():
        (package / name).write_text(code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return {
        name: importlib.import_module(f"ot_doc_ext.{name.removesuffix('.py')}") for name in blocks
    }


def test_each_kind_is_one_file_and_one_line(
    registries: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "say_number" not in task_names() and get_provider("echo/x") is None
    _doc_examples(tmp_path, monkeypatch)
    # The task: listed by `overthink tasks` with its knob, and its samples are generated.
    listing = runner.invoke(app, ["tasks"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0, listing.output
    assert "say_number" in listing.output and "digits = 1,3" in listing.output
    assert [s.target for s in get_task("say_number").samples(2, 0, digits=3)] == ["0", "729"]
    # The engine: picked by its provider name; help texts and errors list it.
    provider = get_provider("echo/anything")
    assert provider is not None and provider.name == "echo"
    assert "echo/<model>" in provider_help()
    with pytest.raises(ConfigError, match=r"accepted: .*echo/<model>"):
        engine_registry.validate_model_name("ecko/x", EngineOptions())
    engine = engine_registry.make_engine("echo/anything", EngineOptions())
    assert type(engine).__name__ == "EchoEngine" and engine.concurrency == 8
    # The verifier and the strategy: selectable by name, listed in the --help texts.
    assert verifier_names()[:3] == ("rubric", "judge", "self_consistency")
    assert "is_number" in verifier_names() and "last" in strategy_names()
    run_help = runner.invoke(app, ["verify", "--help"], env={"COLUMNS": "200"})
    assert "rubric, judge, self_consistency" in run_help.output


def test_the_doc_examples_run_together_by_name(
    registries: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _doc_examples(tmp_path, monkeypatch)
    _, stats, records = run_experiment(
        tmp_path / "run",
        tasks=[{"name": "say_number", "knobs": {"digits": [1, 3]}}],
        models=["echo/test"],
        budgets="natural",
        samples=2,
        samples_per_question=3,
        verifiers=["is_number"],
        strategies=["last", "majority"],
    )
    assert stats.errors == 0
    singles = [r for r in records if r.strategy == "single"]
    assert len(singles) == 2 * 2 * 3
    # The echo engine repeats the number: every answer is right, and is a number.
    assert all(r.task == "say_number" and r.score == 1.0 for r in singles)
    assert all(r.verifier_score == 1.0 for r in singles)
    assert all("is_number" in r.resolved["verifier_details"] for r in singles)
    last = [r for r in records if r.strategy == "last@3"]
    assert len(last) == 4 and len([r for r in records if r.strategy == "majority@3"]) == 4
    assert all(r.resolved["strategy"]["chosen_sample_index"] == 2 for r in last)


def test_custom_task_file_runs_end_to_end_on_the_embedded_model(
    embedded_server: EmbeddedServer, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    spec = f"{ROOT / 'examples' / 'custom_task.py'}@custom_task"
    result = runner.invoke(
        app,
        ["run", "--task", spec, "-T", "terms=2", "--samples", "2", "--budgets", "0,8",
         "--verifier", "rubric", "--out", str(out), "--no-report"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with Store.of_run(out) as store:
        records = list(store.records())
    assert len(records) == 2 * 2 and any(r.answer for r in records)
    for r in records:
        assert r.task == "custom_task" and r.meta["terms"] == 2 and r.error is None
        assert r.score in (0.0, 1.0)
        assert r.target == str(sum(int(t) for t in re.findall(r"\d+", r.prompt.split("?")[0])))
        # The rubric is the task's own (it declares `count`; the numeric default does not).
        checks = r.resolved["verifier_details"]["rubric"]["checks"]
        assert "count" in checks if r.answer else checks == {"answer_present": False}


def _verify_in_a_new_process(run: Path) -> tuple[str, list[dict[str, Any]]]:
    """``overthink verify RUN -V rubric`` in a fresh interpreter (which has never loaded
    the task's file); its stderr and each record's rubric checks."""
    import subprocess

    exe = Path(sys.executable).with_name("overthink")
    proc = subprocess.run([str(exe), "verify", str(run), "-V", "rubric", "--strategy", ""],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with Store.of_run(run) as store:
        checks = [r.resolved["verifier_details"]["rubric"]["checks"] for r in store.records()
                  if r.answer]  # fmt: skip
    return proc.stderr, checks


def test_verify_in_a_later_process_loads_a_file_tasks_rubric_again(
    embedded_server: EmbeddedServer, tmp_path: Path
) -> None:
    """A file task's rubric used to be known only to the process that loaded the file: a
    later ``overthink verify`` scored its samples with the default numeric rubric."""
    task_file = tmp_path / "my_task.py"
    task_file.write_text((ROOT / "examples" / "custom_task.py").read_text())
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        ["run", "--task", f"{task_file}@custom_task", "-T", "terms=2", "--samples", "2",
         "--budgets", "0,8", "--out", str(out), "--no-report"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with Store.of_run(out) as store:
        manifest = store.get_meta("manifest") or {}
    assert manifest["task_files"] == {"custom_task": f"{task_file.resolve()}@custom_task"}
    # Rubric scores are cached in the records: the second case verifies a copy.
    shutil.copytree(out, tmp_path / "copy")
    stderr, checks = _verify_in_a_new_process(out)
    assert f"task 'custom_task': rubric from {task_file.resolve()}@custom_task" in stderr
    assert checks and all("count" in c for c in checks)  # the task's own check
    # The file gone: said so, and the default rubric of the answer kind is used.
    task_file.unlink()
    stderr, checks = _verify_in_a_new_process(tmp_path / "copy")
    assert "task 'custom_task' not loaded again" in stderr and "does not exist" in stderr
    assert checks and not any("count" in c for c in checks)


def _dist_info(site: Path, name: str, entry_points: str) -> None:
    """An installed distribution ``name`` in ``site`` declaring ``entry_points``."""
    dist = site / f"{name.replace('-', '_')}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(entry_points)


def _main(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "argv", ["overthink", *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return int(exit_info.value.code or 0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("missing.py@x", "task 'missing.py@x': file 'missing.py' does not exist"),
        ("tasks.py@nope", "tasks.py defines no task named 'nope' (tasks: mine)"),
        ("tasks.py@helper", "'helper' in tasks.py is not a Task (it is a int;"),
        ("broken.py@x", "importing broken.py failed: ZeroDivisionError: division by zero"),
    ],
)
def test_bad_task_file_is_one_line_and_exit_2(
    spec: str,
    message: str,
    registries: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "tasks.py").write_text(_USER_FILE)
    (tmp_path / "broken.py").write_text("x = 1 / 0\n")
    monkeypatch.chdir(tmp_path)
    code = _main(["run", "--task", spec, "--out", str(tmp_path / "out")], monkeypatch)
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert message in err, err
    assert not (tmp_path / "out").exists()


_USER_FILE = """
from typing import Any

from overthink.core import Sample
from overthink.tasks.base import Task


class Mine(Task):
    name = "mine"
    description = "a user's task"

    def samples(self, n: int, seed: int, **levels: Any) -> list[Sample]:
        return [Sample(id=str(i), task=self.name, prompt="1+1?", target="2") for i in range(n)]


helper = 3
"""


def test_a_task_file_names_a_class_an_instance_a_function_or_a_task_name(
    registries: None, tmp_path: Path
) -> None:
    path = tmp_path / "tasks.py"
    extra = "\n\ndef factory() -> Mine:\n    return Mine()\n\n\nready = Mine()\n"
    path.write_text(_USER_FILE + extra)
    for attr in ("Mine", "mine", "factory", "ready"):
        task = get_task(f"{path}@{attr}")
        assert task.name == "mine" and task.samples(2, 0)[1].target == "2"
    # The task's own name is what records carry; its rubric and class are found by it.
    assert task_registry.task_class("mine") is type(task)


def test_a_broken_plugin_is_one_line_and_the_others_still_load(
    registries: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "ot_plugin_good.py").write_text(
        _USER_FILE.replace('"mine"', '"plugin_task"')
        + textwrap.dedent(
            """
            from overthink.strategies.verifiers.base import Verdict, Verifier


            class PluginVerifier(Verifier):
                name = "plugin_verifier"

                async def verify(self, record, peers):
                    return Verdict(1.0)
            """
        )
    )
    (site / "ot_plugin_bad.py").write_text("raise RuntimeError('boom at import')\n")
    _dist_info(
        site,
        "ot-plugins",
        "[overthink.tasks]\n"
        "good = ot_plugin_good:Mine\n"
        "broken = ot_plugin_bad\n"
        "[overthink.verifiers]\n"
        "good_verifier = ot_plugin_good:PluginVerifier\n"
        "[overthink.engines]\n"
        "gone = ot_plugin_nowhere\n",
    )
    monkeypatch.syspath_prepend(str(site))
    reset_plugins()
    capsys.readouterr()

    names = task_names()
    assert "plugin_task" in names and "misleading_math" in names
    assert get_task("plugin_task").samples(1, 0)[0].target == "2"
    assert "plugin_verifier" in verifier_names()
    assert get_provider("embedded") is not None  # the built-ins are untouched
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "overthink: plugin 'broken' (ot_plugin_bad) in overthink.tasks failed to load: "
        "RuntimeError: boom at import",
        "overthink: plugin 'gone' (ot_plugin_nowhere) in overthink.engines failed to load: "
        "ModuleNotFoundError: No module named 'ot_plugin_nowhere'",
    ]
    assert plugin_errors() == err
    # Reported once: the registries do not retry (and re-print) on every lookup.
    task_names(), verifier_names()
    assert capsys.readouterr().err == ""


def test_closed_vocabularies_are_str_enums_that_store_as_plain_names() -> None:
    import json

    from overthink.analysis.verdict import VerdictName
    from overthink.strategies import StrategyName, get_strategy, strategy_label

    assert json.dumps([StrategyName.MAJORITY, VerdictName.INVERSE]) == '["majority", "inverse"]'
    assert strategy_label(StrategyName.BEST_OF_N, 8) == "best_of_n@8"
    assert tuple(StrategyName) == tuple(get_strategy(n).name for n in StrategyName)
    assert type(get_strategy(StrategyName.WEIGHTED).name) is str
    assert get_strategy("majority").pool_estimator == "maj@k"
    assert get_strategy("weighted").needs_verifier and not get_strategy("first").needs_verifier


def test_optional_abilities_are_declared_on_the_base_classes(tmp_path: Path) -> None:
    from overthink.engines.base import Engine

    # Generated tasks have no limit; a file holds what it holds.
    assert get_task("misleading_math").available is None
    data = tmp_path / "two.jsonl"
    data.write_text('{"prompt": "1+1?", "answer": "2"}\n{"prompt": "2+2?", "answer": "4"}\n')
    assert get_task(f"jsonl:{data}").available == 2
    # Engines: one request in flight and no server of their own unless they say so.

    class Bare(Engine):
        async def chat(self, messages: Any, **kwargs: Any) -> Any:
            raise NotImplementedError

    bare = Bare()
    assert (bare.concurrency, bare.concurrency_from, bare.startup_s) == (1, "config", None)
    # Tasks own their rubric and known weights.
    from overthink.tasks.registry import known_weight_sets, task_rubric

    assert [c.name for c in task_rubric("misleading_math")][:3] == [
        "answer_present", "one_number", "count",
    ]  # fmt: skip
    assert task_rubric("jsonl:x") == ()
    assert list(known_weight_sets()) == ["grades_regression"]


def test_an_installed_package_shows_up_in_help_and_listings(
    registries: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The doc's examples as a package with entry points, seen by a fresh `overthink`."""
    import os
    import subprocess

    _doc_examples(tmp_path, monkeypatch)
    _dist_info(
        tmp_path,
        "ot-doc-ext",
        "[overthink.tasks]\nsay = ot_doc_ext.say_number\n"
        "[overthink.engines]\necho = ot_doc_ext.echo_engine\n"
        "[overthink.verifiers]\nis_number = ot_doc_ext.is_number:IsNumberVerifier\n"
        "[overthink.strategies]\nlast = ot_doc_ext.last_sample\n",
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "COLUMNS": "250"}

    def overthink(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "overthink", *args],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
        )  # fmt: skip

    help_text = overthink("run", "--help").stdout
    assert "anthropic/<model>, echo/<model>" in help_text
    assert "rubric, judge, self_consistency, is_number" in help_text
    assert "first, majority, best_of_n, weighted, last" in help_text
    assert "say_number" in overthink("tasks").stdout
