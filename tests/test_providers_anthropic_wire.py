"""anthropic/ engine against a local server speaking the Anthropic Messages wire format.

The server answers ``POST /v1/messages`` with ``thinking`` and ``text`` content blocks and
a ``usage`` object (``output_tokens_details.thinking_tokens`` included), and records every
request so the test can check the exact ``thinking``/``max_tokens``/``system`` sent.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from helpers import run_experiment
from overthink.errors import ConfigError
from overthink.experiment.config import load_config
from overthink.experiment.session import prepare_run
from overthink.reasoning.audit import audit_budgets

KEY = "sk-ant-test-9876543210zyxwvuSECRET"
TASK = {"tasks": [{"name": "misleading_math", "knobs": {"distractors": [0]}}], "samples": 1}
THOUGHT = "Let me add the numbers carefully."


class AnthropicWire:
    """A local Messages API that spends ``spend(budget_tokens)`` thinking tokens."""

    def __init__(self, spend: Callable[[int], int] = lambda budget: budget // 2) -> None:
        self.requests: list[dict[str, Any]] = []
        self.spend = spend
        wire = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self, body: dict[str, Any] | None) -> bool:
                # The API documents x-api-key; recent SDKs send the key as a Bearer token.
                bearer = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                key = self.headers.get("x-api-key") or bearer
                wire.requests.append({"path": self.path, "key": key, "body": body})
                if key == KEY:
                    return True
                error = {"type": "authentication_error", "message": "invalid x-api-key"}
                self._send(401, {"type": "error", "error": error})
                return False

            def do_GET(self) -> None:
                if not self._authorised(None):
                    return
                model = self.path.rsplit("/", 1)[-1]
                self._send(
                    200,
                    {
                        "id": model,
                        "type": "model",
                        "display_name": model,
                        "created_at": "2025-01-01T00:00:00Z",
                    },
                )

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self._authorised(body):
                    self._send(200, wire.answer(body))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        thinking = body.get("thinking")
        spent = self.spend(thinking["budget_tokens"]) if thinking else 0
        content: list[dict[str, Any]] = []
        if thinking:
            content.append({"type": "thinking", "thinking": THOUGHT, "signature": "c2ln"})
        if spent >= body["max_tokens"]:  # cut inside the thinking: no text block
            spent, answer, stop = body["max_tokens"], 0, "max_tokens"
        else:
            answer, stop = 6, "end_turn"
            content.append({"type": "text", "text": "The answer is 42."})
        return {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 30,
                "output_tokens": spent + answer,
                "output_tokens_details": {"thinking_tokens": spent},
            },
        }

    def messages(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["path"] == "/v1/messages"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicWire]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    # A budget of 2048 is overspent (2400 tokens); others use half their budget.
    server = AnthropicWire(lambda budget: 2400 if budget == 2048 else budget // 2)
    yield server
    server.close()


def test_anthropic_local_wire_server_native_thinking_budgets(
    wire: AnthropicWire, tmp_path: Path
) -> None:
    _, stats, records = run_experiment(
        tmp_path / "r",
        models=["anthropic/claude-wire-test"],
        base_url=wire.url,
        budgets="native:1024,native:2048,native:4096",
        # Room for an answer after an overspent budget: thinking counts inside max_tokens.
        max_answer_tokens=512,
        **TASK,
    )
    assert stats.errors == 0 and len(records) == 3
    bodies = {b["thinking"]["budget_tokens"]: b for b in wire.messages()}
    assert sorted(bodies) == [1024, 2048, 4096]
    for budget, body in bodies.items():
        assert body["thinking"] == {"type": "enabled", "budget_tokens": budget}
        # Thinking counts inside max_tokens: raised to budget + the answer allowance.
        assert body["max_tokens"] == budget + 512
        assert body["system"] == "Think step by step before you answer."
        assert [m["role"] for m in body["messages"]] == ["user"]
        assert "temperature" not in body and "seed" not in body
    by_budget = {r.budget_tokens: r for r in records}
    for budget, r in by_budget.items():
        assert r.reasoning == THOUGHT and r.answer == "42"
        assert r.reasoning_tokens == (2400 if budget == 2048 else budget // 2)
        assert r.answer_tokens == 6 and r.prompt_tokens == 30
        assert r.resolved["request"]["thinking"]["budget_tokens"] == budget
        assert r.resolved["response"]["stop_reason"] == "end_turn"
    # 2400 thinking tokens against budget_tokens 2048 is a violation (> 10 % over).
    assert [r.budget_tokens for r in records if r.budget_violation] == [2048]
    assert all(req["key"] == KEY for req in wire.requests)
    stored = "\n".join(
        p.read_bytes().decode("utf-8", errors="replace")
        for p in (tmp_path / "r").rglob("*")
        if p.is_file()
    )
    assert KEY not in stored


def test_anthropic_budget_below_1024_fails_before_any_request(
    wire: AnthropicWire, tmp_path: Path
) -> None:
    cfg = load_config(
        None,
        {"out": str(tmp_path / "r"), "models": ["anthropic/claude-wire-test"],
         "base_url": wire.url, "budgets": "native:512,native:2048", "report": False, **TASK},
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"native:512 is below .* thinking budget of 1024"):
        asyncio.run(prepare_run(cfg))
    assert wire.requests == []
    assert not (tmp_path / "r").exists()


def test_anthropic_local_wire_server_none_natural_and_truncation(
    wire: AnthropicWire, tmp_path: Path
) -> None:
    _, _, records = run_experiment(
        tmp_path / "r",
        models=["anthropic/claude-wire-test"],
        base_url=wire.url,
        budgets="none,natural",
        max_reasoning_tokens=300,
        **TASK,
    )
    by_mode = {r.budget_mode: r for r in records}
    bodies = {("thinking" in b): b for b in wire.messages()}
    # none: thinking left off (the API default), only the answer allowance.
    assert bodies[False]["max_tokens"] == 16
    assert bodies[False]["system"].startswith("Answer directly")
    assert by_mode["none"].reasoning_tokens == 0 and not by_mode["none"].budget_violation
    # natural: thinking needs a budget; the 300-token safety cap is raised to the minimum.
    assert bodies[True]["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert bodies[True]["max_tokens"] == 1024 + 16
    natural = by_mode["natural"]
    assert natural.resolved["provider_notes"] == {"budget_tokens_raised_to_minimum": True}
    assert natural.reasoning_tokens == 512

    # The output limit hit inside thinking: no text block, recorded as eaten output.
    cut = AnthropicWire(lambda budget: budget + 100)
    try:
        _, _, records = run_experiment(
            tmp_path / "cut", models=["anthropic/claude-wire-test"], base_url=cut.url,
            budgets="native:1500", **TASK,
        )  # fmt: skip
    finally:
        cut.close()
    (r,) = records
    assert r.finish_reason == "length" and r.resolved["response"]["stop_reason"] == "max_tokens"
    assert r.truncated_in_reasoning and r.empty_answer and r.answer is None
    assert r.reasoning_tokens == 1516
    summary = audit_budgets(records).summary()
    assert summary is not None and summary.startswith("1 of 1 trials lost their answer")
    assert summary.endswith("(native:1500 ×1)")


def test_anthropic_local_wire_server_bad_key(
    monkeypatch: pytest.MonkeyPatch, wire: AnthropicWire, tmp_path: Path
) -> None:
    from overthink.errors import EngineUnavailable

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-wrong-key-000000000000")
    cfg = load_config(
        None,
        {"out": str(tmp_path / "r"), "models": ["anthropic/claude-wire-test"],
         "base_url": wire.url, "budgets": "native:2048", "report": False, **TASK},
    )  # fmt: skip
    with pytest.raises(EngineUnavailable, match="rejected the API key from ANTHROPIC_API_KEY") as e:
        asyncio.run(prepare_run(cfg))
    assert "wrong-key" not in str(e.value)
    assert [r["path"] for r in wire.requests] == ["/v1/models/claude-wire-test"]
