"""``overthink tasks``: list, show, export (and errors), through the Typer app."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from typer.testing import CliRunner

import overthink
from overthink.errors import ConfigError

# The `run` command module is written in parallel; until it exists, stand in an empty
# module so that importing the CLI package (which imports every command) works.
if not (Path(overthink.__file__).parent / "cli" / "run.py").exists():
    sys.modules.setdefault("overthink.cli.run", types.ModuleType("overthink.cli.run"))

from overthink.cli import tasks as _tasks  # noqa: F401
from overthink.cli.app import app
from overthink.tasks import get_task

runner = CliRunner()


def test_bare_tasks_lists_every_task_with_knobs() -> None:
    result = runner.invoke(app, ["tasks"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in ("misleading_math", "misleading_python", "famous_paradoxes", "zebra", "risk"):
        assert name in result.output
    assert "grades_regression" in result.output
    assert "distractors = 0,1,3,5" in result.output
    assert "framing = none,light,heavy" in result.output
    assert "shots = 0,8,16,32,64" in result.output
    assert "jsonl:<path>" in result.output and "risk:<path>" in result.output


def test_show_prints_samples_with_targets() -> None:
    result = runner.invoke(
        app, ["tasks", "show", "misleading_math", "-T", "distractors=2", "--n", "2"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("target: 2") == 2
    assert "mm-0-0-d2" in result.output and "mm-0-1-d2" in result.output
    assert "distractors=2" in result.output


def test_show_prints_prompt_text_verbatim() -> None:
    # Prompts contain [brackets] (Python lists); they must not be eaten as rich markup.
    result = runner.invoke(
        app,
        ["tasks", "show", "misleading_python", "-T", "distractors=5", "--n", "1"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert '["' in result.output


def test_show_choice_target_names_the_option() -> None:
    result = runner.invoke(app, ["tasks", "show", "famous_paradoxes", "--n", "1"])
    assert result.exit_code == 0, result.output
    (s,) = get_task("famous_paradoxes").samples(1, 0, framing="none")
    assert f"target: {s.target}" in result.output


def test_export_round_trips_through_jsonl(tmp_path: Path) -> None:
    out = tmp_path / "zebra.jsonl"
    args = ["tasks", "export", "zebra", "-T", "grid=3,4", "--n", "3", "--seed", "5"]
    result = runner.invoke(app, [*args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6
    assert {json.loads(ln)["metadata"]["grid"] for ln in lines} == {3, 4}
    loaded = get_task(f"jsonl:{out}").samples(100, 0)
    original = [s for g in (3, 4) for s in get_task("zebra").samples(3, 5, grid=g)]
    assert [s.model_dump(exclude={"task"}) for s in loaded] == [
        s.model_dump(exclude={"task"}) for s in original
    ]


def test_export_to_stdout_is_pure_jsonl() -> None:
    result = runner.invoke(app, ["tasks", "export", "risk", "--n", "2"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2 and all(r["kind"] == "behaviour" for r in rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tasks", "show", "nope"], "unknown task 'nope'"),
        (["tasks", "show", "zebra", "-T", "size=3"], "no knob 'size'"),
        (["tasks", "show", "zebra", "-T", "grid=12"], "above the maximum"),
        (["tasks", "export", "misleading_math", "-T", "distractors=x"], "not a valid int"),
        (["tasks", "export", "misleading_math", "-T", "distractors"], "expected knob=value"),
        (["tasks", "show", "misleading_math", "--n", "-1"], "--n must be >= 0"),
    ],
)
def test_bad_input_raises_config_error(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert isinstance(result.exception, ConfigError), result.output
    assert message in str(result.exception)
