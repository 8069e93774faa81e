"""Config of parallel sampling: temperature default, verifier/strategy names, run identity."""

from __future__ import annotations

import pytest

from overthink.errors import ConfigError
from overthink.experiment.config import SAMPLING_TEMPERATURE, load_config
from overthink.experiment.plan import make_plan


def test_n_samples_default_to_a_sampling_temperature_and_distinct_seeds() -> None:
    one = [{"name": "misleading_math", "knobs": {"distractors": [0]}}]
    cfg = load_config(None, {"samples_per_question": 4, "samples": 1, "budgets": "0", "tasks": one})
    assert cfg.temperature == SAMPLING_TEMPERATURE and cfg.sampling_warnings() == []
    trials = make_plan(cfg).trials
    assert [(t.sample_index, t.temperature) for t in trials] == [
        (i, SAMPLING_TEMPERATURE) for i in range(4)
    ]
    assert trials[0].seed == 0 and len({t.seed for t in trials}) == 4
    assert len({t.trial_id for t in trials}) == 4
    # Neighbouring run seeds share no sampling seed (seed + index would share 3 of 4).
    other = make_plan(
        load_config(
            None, {"samples_per_question": 4, "samples": 1, "budgets": "0", "tasks": one, "seed": 1}
        )
    ).trials
    assert not {t.seed for t in trials} & {t.seed for t in other}  # fmt: skip
    # One sample keeps greedy decoding; an explicit temperature is never overridden.
    assert load_config(None, {}).temperature == 0.0
    greedy = load_config(None, {"samples_per_question": 4, "temperature": 0.0})
    assert greedy.temperature == 0.0
    (warning,) = greedy.sampling_warnings()
    assert "temperature 0" in warning and "identical" in warning


def test_strategies_default_to_every_applicable_one() -> None:
    assert load_config(None, {}).resolved_strategies() == []
    assert load_config(None, {"samples_per_question": 2}).resolved_strategies() == [
        "first", "majority",
    ]  # fmt: skip
    with_verifier = load_config(None, {"samples_per_question": 2, "verifiers": "judge"})
    assert with_verifier.resolved_strategies()[-2:] == ["best_of_n", "weighted"]
    chosen = load_config(None, {"samples_per_question": 2, "strategies": "weighted,majority"})
    assert chosen.resolved_strategies() == ["weighted", "majority"]
    lone = load_config(None, {"strategies": ["majority"]})
    assert lone.resolved_strategies() == [] and "at least 2" in lone.sampling_warnings()[0]


@pytest.mark.parametrize(
    ("key", "value", "needle"),
    [
        ("verifiers", "rubric,oracle", "verifiers: unknown verifier 'oracle'"),
        ("strategies", "vote", "strategies: unknown strategy 'vote'"),
        ("judge_max_tokens", "0", "judge_max_tokens"),
    ],
)
def test_bad_names_name_the_key(key: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_config(None, {key: value})


def test_postprocessing_settings_do_not_change_the_run() -> None:
    base = load_config(None, {"samples_per_question": 4})
    verified = load_config(
        None,
        {"samples_per_question": 4, "verifiers": "rubric,judge", "strategies": "majority",
         "judge_model": "llamacpp/x.gguf", "judge_max_tokens": 512},
    )  # fmt: skip
    assert verified.run_name() == base.run_name()
    assert load_config(None, {"samples_per_question": 8}).run_name() != base.run_name()


def test_judge_max_tokens_reaches_the_judge() -> None:
    from typing import Any, cast

    from overthink.engines.base import Engine
    from overthink.strategies import make_verifiers

    engine = cast(Engine, type("E", (), {"name": "judge-model"})())  # never called here
    (judge,) = make_verifiers(["judge"], judge_engine=engine, judge_max_tokens=512)
    described: dict[str, Any] = judge.describe()
    assert described["max_tokens"] == 512 and described["model"] == "judge-model"
