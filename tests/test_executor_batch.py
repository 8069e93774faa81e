"""The batch executor against a fake OpenAI Batch / Anthropic Message Batches server on
loopback, driven through the official SDKs (no hosted API is called)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from overthink.errors import EngineUnavailable
from overthink.executors.batch import BatchExecutor
from overthink.experiment.config import load_config
from overthink.experiment.session import execute, prepare_run
from overthink.experiment.store import Store
from overthink.testing.batch import batch_file_lines


def answer_for(prompt: str) -> str:
    """The fake's answer: a pure function of the question, so ingestion can be checked."""
    return str(len(prompt) % 7)


class FakeBatchAPI:
    """Just enough of both batch APIs for the SDKs: create, retrieve, results."""

    def __init__(self) -> None:
        self.hold = True
        self.expire = False
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.created = 0
        self.base = ""

    # -- helpers ---------------------------------------------------------------------
    def _chat(self, body: dict[str, Any]) -> dict[str, Any]:
        text = answer_for(body["messages"][-1]["content"])
        return {
            "id": "chatcmpl-x", "object": "chat.completion", "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
        }  # fmt: skip

    def _message(self, params: dict[str, Any]) -> dict[str, Any]:
        text = answer_for(params["messages"][-1]["content"])
        content: list[dict[str, Any]] = []
        if "thinking" in params:
            content.append({"type": "thinking", "thinking": "Two items.", "signature": "s"})
        content.append({"type": "text", "text": text})
        return {
            "id": "msg_x", "type": "message", "role": "assistant", "model": params["model"],
            "content": content, "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 4},
        }  # fmt: skip

    def _openai_batch(self, batch_id: str) -> dict[str, Any]:
        b = self.batches[batch_id]
        status = "in_progress"
        out_id = None
        if not self.hold:
            status = "expired" if self.expire else "completed"
            lines = b["lines"][: len(b["lines"]) // 2] if self.expire else b["lines"]
            out_id = f"file-out-{batch_id}"
            self.files[out_id] = "".join(
                json.dumps({"id": "r", "custom_id": line["custom_id"], "error": None,
                            "response": {"status_code": 200, "request_id": "q",
                                         "body": self._chat(line["body"])}}) + "\n"
                for line in lines
            ).encode()  # fmt: skip
        return {
            "id": batch_id, "object": "batch", "endpoint": b["endpoint"],
            "input_file_id": b["input_file_id"], "completion_window": "24h",
            "status": status, "created_at": 0, "output_file_id": out_id,
            "error_file_id": None,
        }  # fmt: skip

    def _anthropic_batch(self, batch_id: str) -> dict[str, Any]:
        ended = not self.hold
        n = len(self.batches[batch_id]["requests"])
        return {
            "id": batch_id, "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": {"processing": 0 if ended else n, "succeeded": n if ended else 0,
                               "errored": 0, "canceled": 0, "expired": 0},
            "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z",
            "ended_at": "2026-01-01T01:00:00Z" if ended else None,
            "cancel_initiated_at": None, "archived_at": None,
            "results_url": f"{self.base}/v1/messages/batches/{batch_id}/results" if ended else None,
        }  # fmt: skip

    # -- routes ----------------------------------------------------------------------
    async def model(self, request: Request) -> Response:
        name = request.path_params["model"]
        return JSONResponse({"id": name, "object": "model", "created": 0, "owned_by": "fake",
                             "type": "model", "display_name": name,
                             "created_at": "2026-01-01T00:00:00Z"})  # fmt: skip

    async def upload(self, request: Request) -> Response:
        form = await request.form()
        upload: Any = form["file"]
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = await upload.read()
        return JSONResponse({"id": file_id, "object": "file", "bytes": len(self.files[file_id]),
                             "created_at": 0, "filename": "batch.jsonl", "purpose": "batch",
                             "status": "processed"})  # fmt: skip

    async def create_batch(self, request: Request) -> Response:
        body = await request.json()
        raw = self.files[body["input_file_id"]].decode()
        self.created += 1
        batch_id = f"batch_{self.created}"
        self.batches[batch_id] = {
            "endpoint": body["endpoint"], "input_file_id": body["input_file_id"],
            "lines": [json.loads(x) for x in raw.splitlines() if x],
        }  # fmt: skip
        return JSONResponse(self._openai_batch(batch_id))

    async def get_batch(self, request: Request) -> Response:
        return JSONResponse(self._openai_batch(request.path_params["bid"]))

    async def file_content(self, request: Request) -> Response:
        return PlainTextResponse(self.files[request.path_params["fid"]].decode())

    async def create_message_batch(self, request: Request) -> Response:
        body = await request.json()
        self.created += 1
        batch_id = f"msgbatch_{self.created}"
        self.batches[batch_id] = {"requests": body["requests"]}
        return JSONResponse(self._anthropic_batch(batch_id))

    async def get_message_batch(self, request: Request) -> Response:
        return JSONResponse(self._anthropic_batch(request.path_params["bid"]))

    async def message_results(self, request: Request) -> Response:
        reqs = self.batches[request.path_params["bid"]]["requests"]
        text = "".join(
            json.dumps({"custom_id": r["custom_id"],
                        "result": {"type": "succeeded", "message": self._message(r["params"])}})
            + "\n"
            for r in reqs
        )  # fmt: skip
        return PlainTextResponse(text, media_type="application/x-jsonl")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/models/{model:path}", self.model),
                Route("/v1/files", self.upload, methods=["POST"]),
                Route("/v1/files/{fid}/content", self.file_content),
                Route("/v1/batches", self.create_batch, methods=["POST"]),
                Route("/v1/batches/{bid}", self.get_batch),
                Route("/v1/messages/batches", self.create_message_batch, methods=["POST"]),
                Route("/v1/messages/batches/{bid}", self.get_message_batch),
                Route("/v1/messages/batches/{bid}/results", self.message_results),
            ]
        )


@pytest.fixture(scope="module")
def batch_api() -> Iterator[FakeBatchAPI]:
    api = FakeBatchAPI()
    server = uvicorn.Server(
        uvicorn.Config(api.app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "fake batch server did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    api.base = f"http://127.0.0.1:{port}"
    yield api
    server.should_exit = True
    thread.join(10)


def _config(out: Path, model: str, base: str, budgets: str) -> Any:
    return load_config(
        None,
        {
            "models": [model],
            "base_url": base,
            "budgets": budgets,
            "samples": 2,
            "tasks": [{"name": "misleading_math", "knobs": {"distractors": [0, 1]}}],
            "out": str(out),
            "report": False,
        },
    )


def _submit_then_stop(cfg: Any, api: FakeBatchAPI) -> None:
    """Run until the batch is submitted, then stop the process's work (a restart)."""

    async def go() -> None:
        created = api.created
        task = asyncio.ensure_future(
            execute(await prepare_run(cfg), executor=BatchExecutor(poll_s=0.05))
        )
        deadline = time.monotonic() + 30
        while api.created == created and not task.done():
            assert time.monotonic() < deadline, "no batch was submitted"
            await asyncio.sleep(0.02)
        if task.done():
            task.result()  # raises what went wrong
        await asyncio.sleep(0.2)  # a few polls that find it still running
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())


def test_openai_batch_wire_resumes_without_resubmitting(
    batch_api: FakeBatchAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    batch_api.hold, batch_api.expire = True, False
    cfg = _config(tmp_path / "run", "openai/gpt-4o-mini", batch_api.base + "/v1", "none,natural")
    _submit_then_stop(cfg, batch_api)
    created = batch_api.created
    with Store.of_run(tmp_path / "run") as store:
        assert store.count() == 0
        (entry,) = store.get_meta("batches").values()
        assert entry["status"] == "submitted" and len(entry["trials"]) == 8
    # The file is OpenAI Batch JSONL, which `vllm run-batch` also reads.
    lines = batch_file_lines(Path(entry["input_file"]))
    assert {line["url"] for line in lines} == {"/v1/chat/completions"}
    assert all(line["method"] == "POST" and line["body"]["model"] == "gpt-4o-mini"
               for line in lines)  # fmt: skip

    batch_api.hold = False

    async def resume() -> Any:
        executor = BatchExecutor(poll_s=0.05)
        stats = await execute(await prepare_run(cfg), executor=executor)
        return stats, executor

    stats, executor = asyncio.run(resume())
    assert batch_api.created == created, "the restart resubmitted the batch"
    assert executor.created == 0 and stats.done == 8 and stats.errors == 0
    with Store.of_run(tmp_path / "run") as store:
        records = list(store.records())
        manifest = store.get_meta("manifest")
    assert len(records) == 8
    for r in records:
        assert r.error is None and r.response == answer_for(r.prompt)
        assert r.resolved["request"]["model"] == "gpt-4o-mini"
    assert manifest["executor"]["name"] == "batch"


def test_openai_batch_expired_is_one_line_and_resubmits_the_rest(
    batch_api: FakeBatchAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    batch_api.hold, batch_api.expire = False, True
    cfg = _config(tmp_path / "run", "openai/gpt-4o-mini", batch_api.base + "/v1", "none,natural")

    async def go() -> Any:
        return await execute(await prepare_run(cfg), executor=BatchExecutor(poll_s=0.05))

    with pytest.raises(EngineUnavailable, match=r"expired: 4 of 8 results ingested") as info:
        asyncio.run(go())
    assert "\n" not in str(info.value)
    batch_api.expire = False
    before = batch_api.created
    stats = asyncio.run(go())
    assert batch_api.created == before + 1 and stats.skipped == 4 and stats.done == 4
    with Store.of_run(tmp_path / "run") as store:
        assert store.count() == 8 and len(store.successful_trial_ids()) == 8


def test_anthropic_message_batches_wire(
    batch_api: FakeBatchAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-real")
    batch_api.hold, batch_api.expire = True, False
    cfg = _config(tmp_path / "run", "anthropic/claude-x", batch_api.base, "none,native:1024")
    _submit_then_stop(cfg, batch_api)
    created = batch_api.created
    batch_api.hold = False

    async def resume() -> Any:
        return await execute(await prepare_run(cfg), executor=BatchExecutor(poll_s=0.05))

    stats = asyncio.run(resume())
    assert batch_api.created == created and stats.done == 8 and stats.errors == 0
    with Store.of_run(tmp_path / "run") as store:
        records = list(store.records())
    thinking = [r for r in records if r.budget_mode == "native"]
    assert len(thinking) == 4 and all(r.reasoning == "Two items." for r in thinking)
    assert all(r.response == answer_for(r.prompt) for r in records)
    native = thinking[0].resolved["request"]
    assert native["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_batch_refuses_multi_call_budgets(
    batch_api: FakeBatchAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from overthink.errors import ConfigError

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-real")
    cfg = _config(tmp_path / "run", "openai-api/m", batch_api.base + "/v1", "none")

    async def go() -> Any:
        return await execute(await prepare_run(cfg), executor=BatchExecutor(poll_s=0.05))

    with pytest.raises(ConfigError, match="has no batch API"):
        asyncio.run(go())
