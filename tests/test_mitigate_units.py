"""Mitigation building blocks without a model: paired CIs, budget choice, hygiene,
early-exit rules, router, the PRM adapter (against a local server speaking vLLM's
pooling wire) and the proxy policy file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from overthink.core import Record
from overthink.errors import ConfigError
from overthink.mitigate.choose import choose_budget, fold_of
from overthink.mitigate.compare import paired_effect
from overthink.mitigate.early_exit import Probe, deer_exit, dynasor_exit, has_hedge
from overthink.mitigate.hygiene import clean_lexical, clean_rules, split_prompt
from overthink.mitigate.prm import PRMVerifier, aggregate, split_steps
from overthink.mitigate.router import RouterPolicy, learn_router
from overthink.proxy.policy import load_policy, parse_policy
from overthink.proxy.requests import BadRequest, parse_request
from overthink.tasks import get_task
from overthink.testing.servers import serve_in_thread


def _arm(values: list[float], tokens: list[float], clusters: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "question": [f"q{i}" for i in range(len(values))],
            "cluster": clusters,
            "value": values,
            "tokens": tokens,
            "latency_s": [1.0] * len(values),
        }
    )


def test_paired_effect_is_the_mean_paired_difference_with_a_cluster_ci() -> None:
    clusters = [f"c{i // 2}" for i in range(40)]
    rng = np.random.default_rng(0)
    base_v = rng.integers(0, 2, 40).astype(float)
    mit_v = np.clip(base_v + rng.integers(0, 2, 40), 0, 1)
    base = _arm(list(base_v), [100.0] * 40, clusters)
    mit = _arm(list(mit_v), [60.0] * 40, clusters)
    effect = paired_effect("x", base, mit, n_boot=500)
    assert effect.n_questions == 40
    assert effect.diff["value"] == pytest.approx(float((mit_v - base_v).mean()))
    assert effect.diff["tokens"] == pytest.approx(-40.0)
    assert effect.ci["tokens"] == pytest.approx((-40.0, -40.0))
    lo, hi = effect.ci["value"]
    assert lo <= effect.diff["value"] <= hi and lo < hi
    # Only questions both arms have are paired.
    short = paired_effect("y", base, mit.iloc[:10], n_boot=200)
    assert short.n_questions == 10


def test_choose_budget_turning_point_and_tolerance() -> None:
    frame = pd.DataFrame(
        {"budget": [0, 0, 32, 32, 64, 64], "value": [0.0, 0.0, 1.0, 0.8, 1.0, 1.0],
         "tokens": [0, 0, 30, 30, 60, 60]}
    )  # fmt: skip
    assert choose_budget(frame).budget == 64
    assert choose_budget(frame, tolerance=0.15).budget == 32
    assert choose_budget(frame, tolerance=0.15).rule == "cheapest_within"
    # Lower is better (regression error): the smallest error wins.
    assert choose_budget(frame, higher_is_better=False).budget == 0
    assert {fold_of(f"c{i}") for i in range(50)} == {0, 1}


def test_rule_hygiene_reports_what_it_removed() -> None:
    prompt = (
        "See https://example.com/a for details.\n```python\nx = 42\n```\n"
        "Disclaimer: all rights reserved.\n> an old quote about something\n"
        "You have one apple and one pear. How many fruits do you have?\nAnswer with a number."
    )
    cleaned = clean_rules(prompt)
    assert "https://example.com/a" in cleaned.removed
    assert any("x = 42" in r for r in cleaned.removed)
    assert any("Disclaimer" in r for r in cleaned.removed)
    assert any("old quote" in r for r in cleaned.removed)
    assert "example.com" not in cleaned.prompt and "x = 42" not in cleaned.prompt
    assert "You have one apple and one pear." in cleaned.prompt
    assert cleaned.prompt.endswith("How many fruits do you have?\nAnswer with a number.")
    assert cleaned.removed_chars == sum(len(r) for r in cleaned.removed)
    assert clean_rules("How many?").removed == []


def test_lexical_hygiene_drops_misleading_math_distractors_but_keeps_the_premise() -> None:
    task = get_task("misleading_math")
    [sample] = task.samples(1, 0, distractors=5)
    context, question, instruction = split_prompt(sample.prompt) or ("", "", "")
    assert question.strip().endswith("?") and "Answer" in instruction
    cleaned = clean_lexical(sample.prompt)
    premise = context.split(".")[0]
    assert premise in cleaned.prompt
    assert cleaned.removed, "some distractor sentence shares no word with the question"
    for piece in cleaned.removed:
        assert piece not in cleaned.prompt
    assert cleaned.prompt.endswith(question.strip() + instruction)
    # No question mark: nothing to be relevant to, so nothing is removed.
    assert clean_lexical("Tell me a story.").removed == []


def _probe(at: int, key: str | None, hedged: bool = False, conf: float | None = None) -> Probe:
    return Probe(at=at, text="", key=key, tokens=4, finish_reason="stop", hedged=hedged,
                 confidence=conf)  # fmt: skip


def test_dynasor_rule_needs_k_agreeing_unhedged_answers() -> None:
    assert not dynasor_exit([_probe(32, "2"), _probe(64, "2")], k=3)
    assert dynasor_exit([_probe(32, "3"), _probe(64, "2"), _probe(96, "2"), _probe(128, "2")], 3)
    assert not dynasor_exit([_probe(32, "2"), _probe(64, "2", hedged=True), _probe(96, "2")], 3)
    assert not dynasor_exit([_probe(32, None), _probe(64, None), _probe(96, None)], 3)
    assert has_hedge("Hmm, maybe 2") and has_hedge("WAIT") and not has_hedge("I know: 2")
    assert deer_exit(_probe(32, "2", conf=0.97), 0.95)
    assert not deer_exit(_probe(32, "2", conf=0.9), 0.95)
    assert not deer_exit(_probe(32, "2", conf=None), 0.95)


def test_router_learns_segments_and_round_trips_through_a_proxy_policy(tmp_path: Path) -> None:
    rows = []
    for q in range(12):
        proxy = q % 3  # 0, 1, 2 "numbers"
        for budget in (0, 32, 64):
            # Few numbers: thinking helps; many numbers: thinking hurts.
            good = (budget > 0) if proxy == 0 else (budget == 0)
            rows.append({"task": "t", "prompt_proxy": float(proxy), "budget": budget,
                         "value": float(good), "tokens": float(budget)})  # fmt: skip
    policy = learn_router(pd.DataFrame(rows), proxy="numbers")
    assert policy.rules[0].max == 0.0 and policy.rules[0].budget == 32
    assert policy.budget_for("no digits here") == 32
    assert policy.budget_for("1 2 3 4 5") == 0
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"router": policy.model_dump(mode="json", exclude_none=True)}))
    loaded = load_policy(path)
    assert loaded.router is not None and loaded.router.budget_for("1 2 3 4 5") == 0
    with pytest.raises(ConfigError, match=r"router\.proxy"):
        RouterPolicy(proxy="nope", default_budget=0).check()


def test_bad_policy_files_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cap\.tokens"):
        parse_policy({"cap": {"tokens": -3}}, "p.yaml")
    with pytest.raises(ConfigError, match="unknown_key"):
        parse_policy({"unknown_key": 1}, "p.yaml")
    with pytest.raises(ConfigError, match="early_exit needs a cap"):
        parse_policy({"early_exit": {"chunk": 8}}, "p.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("cap: [unclosed\n")
    with pytest.raises(ConfigError, match="line"):
        load_policy(bad)
    rule = parse_policy(
        {"cap": {"tokens": 64}, "routes": [{"match": {"route": "completions"}, "cap": None}]}
    )
    assert rule.rule_for("chat", "m").cap is not None
    assert rule.rule_for("completions", "m").cap is None


def test_proxy_cli_bad_policy_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text("cap: {tokens: lots}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "overthink", "proxy", "--upstream", "http://127.0.0.1:9",
         "--policy", str(bad)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "cap.tokens" in lines[0] and "Traceback" not in proc.stderr


def test_malformed_requests_name_the_field() -> None:
    cases = [
        ({"messages": []}, "model"),
        ({"model": "m", "messages": "hi"}, "messages"),
        ({"model": "m", "messages": [{"content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
        ({"model": "m", "messages": [{"role": "user"}], "max_tokens": 0}, "max_tokens"),
        ({"model": "m", "messages": [{"role": "user"}], "stream": "yes"}, "stream"),
        ({"model": "m", "messages": [{"role": "user"}], "overthink": {"budget": "x"}},
         "overthink.budget"),
        ({"model": "m", "messages": [{"role": "user"}], "overthink": {"bogus": 1}},
         "overthink.bogus"),
    ]  # fmt: skip
    for body, param in cases:
        with pytest.raises(BadRequest) as info:
            parse_request("chat", body)
        assert info.value.param == param, body
    with pytest.raises(BadRequest, match="prompt"):
        parse_request("completions", {"model": "m", "prompt": 5})
    ok = parse_request("chat", {"model": "m", "messages": [{"role": "user", "content": "q?"}],
                                "overthink": {"budget": 16}})  # fmt: skip
    assert ok.overrides.budget == 16 and "overthink" not in ok.body and ok.text == "q?"


def test_prm_adapter_against_a_local_server_speaking_vllm_pooling_wire() -> None:
    seen: list[dict[str, object]] = []

    async def pooling(request: Request) -> JSONResponse:
        body = await request.json()
        seen.append(body)
        steps = body["messages"][-1]["content"].count("<extra_0>")
        # vLLM's STEP pooling shape: one [p_bad, p_good] pair per step tag.
        data = [[0.1, 0.9], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7]][:steps]
        return JSONResponse({"id": "pool-1", "object": "list", "model": body["model"],
                             "data": [{"index": 0, "object": "pooling", "data": data}],
                             "usage": {"prompt_tokens": 10, "total_tokens": 10}})  # fmt: skip

    server = serve_in_thread(Starlette(routes=[Route("/pooling", pooling, methods=["POST"])]))
    try:
        record = Record(run="r", trial_id="t", task="misleading_math", sample_id="s",
                        model="m", budget_mode="forced", budget_tokens=64,
                        prompt="How many?", reasoning="Step one.\n\nStep two.\n\nStep three.",
                        answer="2")  # fmt: skip
        assert split_steps(record.reasoning, "2") == [
            "Step one.",
            "Step two.",
            "Step three.",
            "Final answer: 2",
        ]

        async def go() -> list[float]:
            out = []
            for how in ("min", "last", "prod"):
                prm = PRMVerifier(server.url + "/v1", "qwen-prm", aggregation=how)
                out.append((await prm.verify(record, [record])).score)
                await prm.aclose()
            return out

        low, last, prod = asyncio.run(go())
        assert low == pytest.approx(0.6) and last == pytest.approx(0.7)
        assert prod == pytest.approx(0.9 * 0.6 * 0.8 * 0.7)
        assert seen[0]["model"] == "qwen-prm"
        assert aggregate([0.5, 0.25], "prod") == pytest.approx(0.125)
        with pytest.raises(ConfigError):
            PRMVerifier(server.url, "m", aggregation="mean")
    finally:
        server.stop()


def test_mitigate_cli_bad_input_names_what_was_wrong(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from overthink.cli import app

    result = CliRunner().invoke(app, ["mitigate", str(tmp_path / "nope"), "--with", "cap"])
    assert isinstance(result.exception, ConfigError) and "store.sqlite" in str(result.exception)
    result = CliRunner().invoke(app, ["mitigate", str(tmp_path), "--with", "capp"])
    assert isinstance(result.exception, ConfigError)
    assert "unknown 'capp'" in str(result.exception) and "early_exit" in str(result.exception)
    assert not (tmp_path / "mitigate").exists()
