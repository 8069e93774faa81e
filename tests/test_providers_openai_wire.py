"""openai/ and openai-api/ engines against a local server speaking the OpenAI wire format.

The server implements just enough of the documented Chat Completions API (including
``usage.completion_tokens_details.reasoning_tokens`` and the ``reasoning_content`` field
that vLLM-style servers add) to check, request by request, what the engine really sends,
and what ends up in the stored records.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from helpers import run_experiment
from overthink.errors import ConfigError
from overthink.experiment.config import load_config
from overthink.experiment.session import prepare_run

KEY = "sk-test-0123456789abcdefSECRET"
# Reasoning tokens the fake model spends per effort level (None: no effort sent).
SPEND = {"minimal": 20, "low": 100, "medium": 400, "high": 1600, None: 50}
TASK = {"tasks": [{"name": "misleading_math", "knobs": {"distractors": [0]}}], "samples": 1}


class OpenAIWire:
    """A local Chat Completions server that records every request it gets."""

    def __init__(self, *, fail_first: int = 0, reject_chat: bool = False) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_first = fail_first
        self.reject_chat = reject_chat
        self.lock = threading.Lock()
        wire = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _send(self, status: int, payload: dict[str, Any], **headers: str) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(data)

            def _record(self, body: dict[str, Any] | None) -> None:
                with wire.lock:
                    wire.requests.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "auth": self.headers.get("Authorization"),
                            "body": body,
                        }
                    )

            def do_GET(self) -> None:
                self._record(None)
                if self.path == "/health":
                    self._send(200, {"status": "ok"})
                elif self.path.startswith("/v1/models/"):
                    model = self.path.rsplit("/", 1)[-1]
                    self._send(
                        200, {"id": model, "object": "model", "created": 0, "owned_by": "test"}
                    )
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self._record(body)
                with wire.lock:
                    chats = sum(r["path"] == "/v1/chat/completions" for r in wire.requests)
                if wire.reject_chat:
                    # Real servers echo (part of) the key they got in 401 messages.
                    got = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                    self._send(
                        401,
                        {
                            "error": {
                                "message": f"Incorrect API key provided: {got}.",
                                "type": "invalid_request_error",
                                "code": "invalid_api_key",
                            }
                        },
                    )
                    return
                if chats <= wire.fail_first:
                    self._send(429, {"error": {"message": "slow down"}}, retry_after="0")
                    return
                self._send(200, wire.answer(body))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """A completion whose reasoning length follows the effort (or thinking) requested."""
        effort = body.get("reasoning_effort")
        thinking = body.get("extra_body", {}).get("google", {}).get("thinking_config", {})
        spend = SPEND[effort]
        if "thinking_budget" in thinking:
            spend = thinking["thinking_budget"] // 2
        limit = body.get("max_completion_tokens") or body.get("max_tokens") or 10**6
        message: dict[str, Any] = {"role": "assistant", "content": "The answer is 42."}
        message["reasoning_content"] = "First I add, then I check the sum."
        if spend >= limit:  # the output limit was hit inside the reasoning
            spend, answer, finish = limit, 0, "length"
            message["content"] = ""
        else:
            answer, finish = 6, "stop"
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": 20,
                "completion_tokens": spend + answer,
                "total_tokens": 20 + spend + answer,
                "completion_tokens_details": {"reasoning_tokens": spend},
            },
        }

    def chats(self) -> list[dict[str, Any]]:
        """Bodies of the chat requests received, in order."""
        return [r["body"] for r in self.requests if r["path"] == "/v1/chat/completions"]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIWire]:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server = OpenAIWire()
    yield server
    server.close()


def _files_text(folder: Path) -> str:
    return "\n".join(
        p.read_bytes().decode("utf-8", errors="replace") for p in folder.rglob("*") if p.is_file()
    )


def test_openai_local_wire_server_native_effort_buckets(wire: OpenAIWire, tmp_path: Path) -> None:
    _, stats, records = run_experiment(
        tmp_path / "r",
        models=["openai/o3-mini"],
        base_url=wire.url,
        budgets="native:1000,native:4000,native:20000",
        **TASK,
    )
    assert stats.errors == 0 and len(records) == 3
    sent = {body["reasoning_effort"]: body for body in wire.chats()}
    assert sorted(sent) == ["high", "low", "medium"]
    for effort, budget in (("low", 1000), ("medium", 4000), ("high", 20000)):
        body = sent[effort]
        # reasoning + answer share max_completion_tokens; max_tokens is never sent.
        assert body["max_completion_tokens"] == budget + 16
        assert "max_tokens" not in body
        # o-series models take only the default temperature.
        assert "temperature" not in body
    for r in records:
        effort = r.resolved["request"]["reasoning_effort"]
        assert r.reasoning_tokens == SPEND[effort]
        assert r.resolved["reasoning_tokens_from"] == "usage"
        assert r.resolved["provider_notes"]["effort_edges"] == [2048, 8192]
        assert r.reasoning == "First I add, then I check the sum."
        assert r.answer == "42" and not r.budget_violation and not r.empty_answer
    # Requests carry the key; nothing stored does.
    assert all(req["auth"] == f"Bearer {KEY}" for req in wire.requests)
    assert KEY not in _files_text(tmp_path / "r")


def test_openai_local_wire_server_configurable_effort_edges(
    wire: OpenAIWire, tmp_path: Path
) -> None:
    run_experiment(
        tmp_path / "r",
        models=["openai/gpt-4.1"],
        base_url=wire.url,
        budgets="native:100,native:600,native:5000",
        effort_edges=[256, 1024],
        effort_levels=["minimal", "low", "high"],
        temperature=0.0,
        **TASK,
    )
    efforts = sorted(
        (body["max_completion_tokens"], body["reasoning_effort"]) for body in wire.chats()
    )
    assert efforts == [(116, "minimal"), (616, "low"), (5016, "high")]
    # Not a reasoning-only model: the temperature is sent.
    assert all(body["temperature"] == 0.0 for body in wire.chats())


def test_openai_local_wire_server_effort_eats_the_output(wire: OpenAIWire, tmp_path: Path) -> None:
    """A low budget bucketed to 'medium' effort: the reasoning hits the cap, no answer."""
    _, _, records = run_experiment(
        tmp_path / "r",
        models=["openai/o3-mini"],
        base_url=wire.url,
        budgets="native:300",
        effort_edges=[100, 1000],
        **TASK,
    )
    (r,) = records
    assert r.resolved["request"]["reasoning_effort"] == "medium"
    assert r.reasoning_tokens == 316 and r.finish_reason == "length"
    assert r.truncated_in_reasoning and r.empty_answer and r.answer is None


def test_openai_local_wire_server_none_and_prompt(wire: OpenAIWire, tmp_path: Path) -> None:
    from overthink.reasoning.prompts import PROMPT_VARIANTS

    _, _, records = run_experiment(
        tmp_path / "r",
        models=["openai/o3-mini"],
        base_url=wire.url,
        budgets="none,prompt:800,prompt:30",
        prompt_variant="urge-brevity",
        max_reasoning_tokens=1000,
        **TASK,
    )
    by_mode = {(r.budget_mode, r.budget_tokens): r for r in records}
    bodies = {("reasoning_effort" in b, b["max_completion_tokens"]): b for b in wire.chats()}
    # none: only the answer allowance and no effort. A reasoning model reasons anyway and
    # spends the whole allowance on it: a violation (0 allowed) that ate the answer.
    none = by_mode[("none", 0)]
    assert (False, 16) in bodies
    assert none.reasoning_tokens == 16 and none.budget_violation
    assert none.empty_answer and none.truncated_in_reasoning
    # prompt: the statement is the system message; the cap leaves room to overshoot it.
    prompt = by_mode[("prompt", 800)]
    statement = PROMPT_VARIANTS["urge-brevity"].format(budget=800)
    body = bodies[(False, 2 * 800 + 16)]
    assert body["messages"][0] == {"role": "system", "content": statement}
    assert prompt.resolved["system"] == statement
    assert prompt.resolved["prompt_variant"] == "urge-brevity"
    assert prompt.resolved["stated_budget"] == 800
    assert not prompt.budget_violation
    # A model that spends 50 tokens after being told "about 30" ignored the statement.
    told = by_mode[("prompt", 30)]
    assert (False, 1000 + 16) in bodies  # the safety cap, not 2 × 30
    assert told.reasoning_tokens == 50 and told.budget_violation


def test_forced_on_a_chat_only_api_fails_before_any_request(
    wire: OpenAIWire, tmp_path: Path
) -> None:
    cfg = load_config(
        None,
        {"out": str(tmp_path / "r"), "models": ["openai/o3-mini"], "base_url": wire.url,
         "budgets": "forced:64", "report": False, **TASK},
    )  # fmt: skip
    with pytest.raises(ConfigError, match="raw-completion endpoint"):
        asyncio.run(prepare_run(cfg))
    assert wire.requests == []
    assert not (tmp_path / "r").exists()


def test_openai_without_a_key_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cfg = load_config(None, {"out": str(tmp_path / "r"), "models": ["openai/o3"], **TASK})
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        asyncio.run(prepare_run(cfg))


def test_openai_local_wire_server_rejected_key_is_redacted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server = OpenAIWire(reject_chat=True)
    try:
        _, stats, records = run_experiment(
            tmp_path / "r", models=["openai/o3-mini"], base_url=server.url, budgets="native:500",
            max_retries=0, **TASK,
        )  # fmt: skip
    finally:
        server.close()
    (r,) = records
    assert stats.errors == 1 and r.error is not None
    assert "HTTP 401" in r.error and "[redacted]" in r.error
    assert KEY not in r.error and KEY[:12] not in r.error
    assert KEY not in _files_text(tmp_path / "r")


def test_openai_local_wire_server_rate_limit_is_retried(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    server = OpenAIWire(fail_first=2)
    try:
        _, stats, records = run_experiment(
            tmp_path / "r", models=["openai/o3-mini"], base_url=server.url,
            budgets="native:500", **TASK,
        )  # fmt: skip
    finally:
        server.close()
    (r,) = records
    assert stats.errors == 0 and r.retries == 2 and r.answer == "42"
    assert len(server.chats()) == 3


def test_openai_api_local_wire_server_gemini_and_vllm_native_styles(
    wire: OpenAIWire, tmp_path: Path
) -> None:
    _, _, records = run_experiment(
        tmp_path / "g", models=["openai-api/gemini-2.5-flash"], base_url=wire.url,
        budgets="native:600", **TASK,
    )  # fmt: skip
    (r,) = records
    (body,) = wire.chats()
    # Google's OpenAI-compatible endpoint reads a literal "extra_body" object.
    config = body["extra_body"]["google"]["thinking_config"]
    assert config == {"thinking_budget": 600, "include_thoughts": True}
    assert body["max_tokens"] == 616
    assert r.resolved["request"]["extra_body"]["google"]["thinking_config"] == config
    assert r.reasoning_tokens == 300 and not r.budget_violation
    assert r.resolved["native_style"] == "gemini"

    run_experiment(
        tmp_path / "v", models=["openai-api/qwen3"], base_url=wire.url, budgets="native:600",
        native_style="vllm", **TASK,
    )  # fmt: skip
    body = wire.chats()[-1]
    assert body["thinking_token_budget"] == 600 and "extra_body" not in body


def test_openai_api_local_wire_server_never_gets_the_openai_key(
    wire: OpenAIWire, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # OPENAI_API_KEY is set (the fixture); a self-hosted URL must not receive it.
    monkeypatch.delenv("OVERTHINK_API_KEY", raising=False)
    run_experiment(tmp_path / "a", models=["openai-api/qwen3"], base_url=wire.url,
                   budgets="none", **TASK)  # fmt: skip
    sent = {r["auth"] for r in wire.requests}
    assert sent and all(KEY not in (a or "") for a in sent), sent
    monkeypatch.setenv("OVERTHINK_API_KEY", "sk-self-hosted-123")
    run_experiment(tmp_path / "b", models=["openai-api/qwen3"], base_url=wire.url,
                   budgets="none", **TASK)  # fmt: skip
    assert wire.requests[-1]["auth"] == "Bearer sk-self-hosted-123"


def test_run_cli_prints_the_budget_warning_line(wire: OpenAIWire, tmp_path: Path) -> None:
    args = [
        sys.executable, "-m", "overthink", "run", "-m", "openai/o3-mini", "--base-url",
        wire.url, "-b", "none,native:300", "-s", "2", "-T", "distractors=0",
        "--no-report", "--out", str(tmp_path / "r"),
    ]  # fmt: skip
    config = tmp_path / "c.yaml"
    config.write_text("effort_edges: [100, 1000]\n")
    args += ["--config", str(config)]
    env = {**os.environ, "COLUMNS": "250", "OPENAI_API_KEY": KEY}
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stderr.split())
    # none: reasoning against 0 allowed, and it fills the 16-token allowance; native:300
    # → 'medium' effort eats the 316-token output limit.
    assert "2 of 4 trials exceeded their enforced budget by more than 10 % (none ×2)" in text
    assert "4 of 4 trials lost their answer to reasoning" in text
    assert "(native:300 ×2, none ×2)" in text
    assert KEY not in proc.stdout + proc.stderr
