"""Experiment config: YAML mirrors the flags; bad input names the key/line."""

from __future__ import annotations

from pathlib import Path

import pytest

from overthink.core import BudgetMode
from overthink.errors import ConfigError
from overthink.experiment.config import load_config
from overthink.experiment.plan import make_plan


def test_yaml_config_mirrors_flags(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(
        "name: demo\n"
        "tasks:\n  - name: misleading_math\n    knobs: {distractors: [0, 2]}\n"
        "budgets: [0, 16, natural]\nsamples: 3\n"
    )
    cfg = load_config(path, {"seed": 5})
    assert cfg.name == "demo" and cfg.seed == 5
    budgets = cfg.parsed_budgets()
    assert [b.mode for b in budgets] == [BudgetMode.FORCED, BudgetMode.FORCED, BudgetMode.NATURAL]
    plan = make_plan(cfg)
    # 2 levels × 3 questions × 3 budgets
    assert len(plan.trials) == 18
    assert {t.sample.meta["distractors"] for t in plan.trials} == {0, 2}
    assert len({t.trial_id for t in plan.trials}) == 18


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("samples: 3\nbudgetz: [1]\n")
    with pytest.raises(ConfigError, match="unknown key 'budgetz'"):
        load_config(path)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("samples: 3\nbudgets: [1, 2\n")
    with pytest.raises(ConfigError, match=r"exp.yaml line \d+"):
        load_config(path)


@pytest.mark.parametrize("budgets", ["1,x", "", "forced:-3", "turbo:4"])
def test_bad_budget_list(budgets: str) -> None:
    cfg = load_config(None, {"budgets": budgets})
    with pytest.raises(ConfigError, match="budgets"):
        cfg.parsed_budgets()


def test_bad_value_names_field() -> None:
    with pytest.raises(ConfigError, match="samples"):
        load_config(None, {"samples": 0})


def test_unknown_task_and_knob() -> None:
    with pytest.raises(ConfigError, match="unknown task 'nope'"):
        make_plan(load_config(None, {"tasks": ["nope"]}))
    with pytest.raises(ConfigError, match="knob"):
        make_plan(load_config(None, {"tasks": [{"name": "misleading_math", "knobs": {"x": [1]}}]}))


def test_same_config_same_run_name() -> None:
    a = load_config(None, {"samples": 4})
    b = load_config(None, {"samples": 4})
    c = load_config(None, {"samples": 5})
    assert a.run_name() == b.run_name() != c.run_name()


def test_a_file_task_used_in_part_gets_a_note(tmp_path: Path) -> None:
    import json

    from overthink.experiment.config import load_config
    from overthink.experiment.plan import make_plan

    data = tmp_path / "mine.jsonl"
    data.write_text(
        "".join(json.dumps({"prompt": f"q{i}?", "answer": str(i)}) + "\n" for i in range(30))
    )
    part = make_plan(load_config(None, {"tasks": [f"jsonl:{data}"], "samples": 12}))
    assert any("using the first 12 of 30 samples" in n for n in part.notes), part.notes
    whole = make_plan(load_config(None, {"tasks": [f"jsonl:{data}"], "samples": 30}))
    assert whole.notes == [] and len(whole.trials) == 30 * 5
