"""The batch executor: single-call trials through provider batch APIs, resumable.

For budget modes that are one chat request (``none``, ``natural``, ``prompt``,
``native`` on ``openai/`` and ``anthropic/`` models) the requests of every pending trial
are written as a batch file and submitted through the official SDK:

* OpenAI: Batch JSONL (``{custom_id, method, url, body}``; the same file runs on
  ``vllm run-batch``), uploaded with ``files.create`` and started with ``batches.create``;
* Anthropic: Message Batches (``{custom_id, params}``) with ``messages.batches.create``.

The request bodies are not rebuilt by hand: each trial runs through the ordinary budget
layer and engine with an httpx transport that *captures* the one request it sends. When
the batch is done, each result is *replayed* through the same engine code, so a record
from a batch equals one from a live call (latency aside: it is the replay's).

Batch ids are stored in the run's store (meta ``batches``) as soon as a batch is
created, so a restarted run polls the batches it already submitted instead of sending
them again. An expired, failed or cancelled batch ingests the results it has and ends
the run with one line; running again resubmits only the missing trials.
"""

from __future__ import annotations

import asyncio
import contextvars
import copy
import importlib
import json
import re
import time
from collections.abc import Callable
from typing import Any

from overthink.core import BudgetMode, Record, Trial
from overthink.engines.anthropic_messages import AnthropicEngine
from overthink.engines.base import Engine
from overthink.engines.openai_compat import OpenAICompatEngine
from overthink.errors import ConfigError, EngineUnavailable
from overthink.experiment.execution import RunJob, WorkerRow
from overthink.experiment.runner import RunStats, error_record, execute_trial, pending_trials

__all__ = ["BATCH_MODES", "BatchExecutor"]

BATCH_MODES = frozenset({BudgetMode.NONE, BudgetMode.NATURAL, BudgetMode.PROMPT, BudgetMode.NATIVE})
"""Budget modes that are one chat request on a chat-only engine."""

META_KEY = "batches"

_TRIAL: contextvars.ContextVar[str] = contextvars.ContextVar("overthink_batch_trial")

_OPENAI_DONE = {"completed", "failed", "expired", "cancelled"}


class _Capture:
    """Records the request a trial sends and answers with an empty but valid reply."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.requests: dict[str, list[tuple[str, dict[str, Any]]]] = {}

    def __call__(self, path: str, content: bytes) -> dict[str, Any]:
        body = json.loads(content or b"{}")
        self.requests.setdefault(_TRIAL.get(), []).append((path, body))
        if self.provider == "anthropic":
            return {
                "id": "capture", "type": "message", "role": "assistant",
                "model": body.get("model", ""), "content": [], "stop_reason": "end_turn",
                "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0},
            }  # fmt: skip
        return {
            "id": "capture", "object": "chat.completion", "created": 0,
            "model": body.get("model", ""),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": ""}}],
        }  # fmt: skip


class _Replay:
    """Answers each trial's request with the body its batch returned."""

    def __init__(self, bodies: dict[str, dict[str, Any]]) -> None:
        self.bodies = bodies

    def __call__(self, path: str, content: bytes) -> dict[str, Any]:
        return self.bodies[_TRIAL.get()]


def _local_client(sdk: Any, answer: Callable[[str, bytes], dict[str, Any]]) -> Any:
    """An HTTP client of the SDK's own httpx flavour that answers every request in-process.

    SDKs differ in which httpx they are built on (``httpx`` or its fork ``httpx2``), and
    each accepts only its own client and transport classes.
    """
    root = next(
        cls.__module__.partition(".")[0]
        for cls in type(sdk._client).__mro__
        if cls.__name__ == "AsyncClient" and cls.__module__.startswith("httpx")
    )
    module = importlib.import_module(root)

    class Local(module.AsyncBaseTransport):  # type: ignore[misc, name-defined]
        async def handle_async_request(self, request: Any) -> Any:
            return module.Response(200, json=answer(request.url.path, request.content))

    return module.AsyncClient(transport=Local())


def _provider(engine: Engine) -> str:
    if isinstance(engine, AnthropicEngine):
        return "anthropic"
    if isinstance(engine, OpenAICompatEngine) and not engine.can_complete:
        return "openai"
    raise ConfigError(
        f"--executor batch: model {engine.name!r} has no batch API "
        "(use openai/<model> or anthropic/<model>, or --executor local)"
    )


def _with_transport(engine: Engine, answer: Callable[[str, bytes], dict[str, Any]]) -> Engine:
    """A copy of ``engine`` whose SDK client is answered in-process by ``answer``."""
    clone = copy.copy(engine)
    sdk = engine._client  # type: ignore[attr-defined]
    clone._client = sdk.copy(  # type: ignore[attr-defined]
        http_client=_local_client(sdk, answer), max_retries=0
    )
    return clone


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:60]


class BatchExecutor:
    """Trials as provider batches; the process polls and is the store's only writer."""

    name = "batch"

    def __init__(self, *, poll_s: float = 30.0) -> None:
        self.poll_s = poll_s
        self.batches: dict[str, dict[str, Any]] = {}
        self.created = 0
        self._say: Callable[[str], None] = lambda _line: None

    def _check(self, job: RunJob, trials: list[Trial]) -> None:
        for trial in trials:
            if trial.budget.mode not in BATCH_MODES:
                raise ConfigError(
                    f"--executor batch runs single-call budgets (none, natural, prompt, "
                    f"native); {trial.budget.label} needs several calls (use --executor local)"
                )
        for model in {t.model for t in trials}:
            _provider(job.engines[model])

    async def run(self, job: RunJob) -> RunStats:
        todo = pending_trials(job.plan, job.store)
        stats = RunStats(planned=len(job.plan.trials), skipped=len(job.plan.trials) - len(todo))
        started = time.perf_counter()
        say = job.notify or (lambda _line: None)
        self._say = say
        self.batches = dict(job.store.get_meta(META_KEY) or {})
        by_id = {t.trial_id: t for t in job.plan.trials}
        claimed = {
            tid for b in self.batches.values() if b["status"] == "submitted" for tid in b["trials"]
        }
        fresh = [t for t in todo if t.trial_id not in claimed]
        for batch_id, entry in self.batches.items():
            if entry["status"] == "submitted":
                say(f"batch {batch_id}: {len(entry['trials'])} trials of {entry['model']} "
                    "submitted earlier, polling it (not resubmitted)")  # fmt: skip
        self._check(job, fresh)
        for model in dict.fromkeys(t.model for t in fresh):
            trials = [t for t in fresh if t.model == model]
            await self._submit(job, model, trials, say)

        def store(record: Record) -> None:
            job.store.put(record)
            stats.done += 1
            stats.errors += record.error is not None
            if job.on_record is not None:
                job.on_record(record)

        try:
            failures = await self._poll_until_done(job, by_id, store)
        finally:
            stats.wall_s = time.perf_counter() - started
            stats.generated_tokens = sum(
                int(b.get("generated_tokens", 0)) for b in self.batches.values()
            )
        if failures:
            raise EngineUnavailable("; ".join(failures))
        return stats

    async def _poll_until_done(
        self, job: RunJob, by_id: dict[str, Trial], store: Callable[[Record], None]
    ) -> list[str]:
        """Poll every submitted batch until none is left; the failure lines."""
        failures: list[str] = []
        while True:
            waiting = [b for b in self.batches.items() if b[1]["status"] == "submitted"]
            if not waiting:
                return failures
            for batch_id, entry in waiting:
                engine = job.engines.get(entry["model"])
                if engine is None:  # a batch of a model no longer in this config
                    continue
                line = await self._poll(job, batch_id, entry, engine, by_id, store)
                if line:
                    failures.append(line)
                job.store.set_meta(META_KEY, self.batches)
            if any(b["status"] == "submitted" for b in self.batches.values()):
                await asyncio.sleep(self.poll_s)

    async def _submit(
        self, job: RunJob, model: str, trials: list[Trial], say: Callable[[str], None]
    ) -> None:
        engine = job.engines[model]
        provider = _provider(engine)
        capture = _Capture(provider)
        clone = _with_transport(engine, capture)
        lines: list[dict[str, Any]] = []
        for trial in trials:
            token = _TRIAL.set(trial.trial_id)
            try:
                await execute_trial(clone, trial, job.plan, job.run, job.options)
            finally:
                _TRIAL.reset(token)
            sent = capture.requests.get(trial.trial_id, [])
            if len(sent) != 1:
                raise ConfigError(
                    f"--executor batch: trial {trial.trial_id} ({trial.budget.label}) made "
                    f"{len(sent)} requests; only single-call trials can be batched"
                )
            sent_path, body = sent[0]
            url = "/v1/" + sent_path.split("/v1/", 1)[1] if "/v1/" in sent_path else sent_path
            if provider == "anthropic":
                lines.append({"custom_id": trial.trial_id, "params": body})
            else:
                lines.append(
                    {"custom_id": trial.trial_id, "method": "POST", "url": url, "body": body}
                )
        folder = job.run_dir / "batches"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{_slug(model)}-{len(self.batches) + 1}.jsonl"
        path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        sdk: Any = engine._client  # type: ignore[attr-defined]
        if provider == "anthropic":
            created = await sdk.messages.batches.create(requests=lines)
        else:
            with path.open("rb") as fh:
                uploaded = await sdk.files.create(file=fh, purpose="batch")
            created = await sdk.batches.create(
                input_file_id=uploaded.id,
                endpoint=lines[0]["url"],
                completion_window="24h",
                metadata={"overthink_run": job.run[:500]},
            )
        self.created += 1
        # Stored at once: a restart from here on polls this batch instead of resubmitting.
        self.batches[created.id] = {
            "provider": provider,
            "model": model,
            "trials": [t.trial_id for t in trials],
            "input_file": str(path),
            "submitted_at": time.time(),
            "status": "submitted",
        }
        job.store.set_meta(META_KEY, self.batches)
        say(f"batch {created.id}: {len(trials)} trials of {model} submitted ({path.name})")

    async def _poll(
        self,
        job: RunJob,
        batch_id: str,
        entry: dict[str, Any],
        engine: Engine,
        by_id: dict[str, Trial],
        store: Callable[[Record], None],
    ) -> str | None:
        """Poll one batch; ingest it when it ends. Returns a failure line, if any."""
        sdk: Any = engine._client  # type: ignore[attr-defined]
        results: dict[str, dict[str, Any] | str]
        previous = entry.get("remote_status")
        if entry["provider"] == "anthropic":
            batch = await sdk.messages.batches.retrieve(batch_id)
            entry["remote_status"] = batch.processing_status
            if batch.processing_status != "ended":
                return None
            results = {}
            async for item in await sdk.messages.batches.results(batch_id):
                if item.result.type == "succeeded":
                    results[item.custom_id] = item.result.message.model_dump(mode="json")
                else:
                    results[item.custom_id] = f"batch result {item.result.type}"
            status = "ended"
        else:
            batch = await sdk.batches.retrieve(batch_id)
            entry["remote_status"] = batch.status
            if batch.status not in _OPENAI_DONE:
                return None
            results = {}
            for file_id in (batch.output_file_id, batch.error_file_id):
                if not file_id:
                    continue
                content = await sdk.files.content(file_id)
                for raw in content.text.splitlines():
                    if not raw.strip():
                        continue
                    item = json.loads(raw)
                    response = item.get("response") or {}
                    if response.get("status_code") == 200 and response.get("body"):
                        results[item["custom_id"]] = response["body"]
                    else:
                        results[item["custom_id"]] = f"batch error: {item.get('error')}"
            status = batch.status
        self._say(f"batch {batch_id} ({entry['model']}): {previous or 'submitted'} -> {status}")
        ingested = await self._ingest(job, entry, engine, results, by_id, store)
        entry["status"] = "ingested" if status in ("completed", "ended") else status
        entry["ingested"] = ingested
        if status in ("completed", "ended"):
            return None
        return (
            f"batch {batch_id} ({entry['model']}) {status}: {ingested} of "
            f"{len(entry['trials'])} results ingested; run again to resubmit the rest"
        )

    async def _ingest(
        self,
        job: RunJob,
        entry: dict[str, Any],
        engine: Engine,
        results: dict[str, dict[str, Any] | str],
        by_id: dict[str, Trial],
        store: Callable[[Record], None],
    ) -> int:
        bodies = {k: v for k, v in results.items() if isinstance(v, dict)}
        clone = _with_transport(engine, _Replay(bodies))
        ingested = 0
        for trial_id in entry["trials"]:
            trial = by_id.get(trial_id)
            result = results.get(trial_id)
            if trial is None or result is None:
                continue  # not in this plan, or no result (an expired batch): resubmitted
            if isinstance(result, str):
                store(error_record(trial, job.run, engine, RuntimeError(result), 0.0))
                continue
            token = _TRIAL.set(trial_id)
            try:
                record = await execute_trial(clone, trial, job.plan, job.run, job.options)
            finally:
                _TRIAL.reset(token)
            entry["generated_tokens"] = int(entry.get("generated_tokens", 0)) + (
                record.reasoning_tokens + record.answer_tokens
            )
            store(record)
            ingested += 1
        return ingested

    def rows(self) -> list[WorkerRow]:
        return [
            WorkerRow(
                f"batch {batch_id} ({entry['model']})",
                trials=int(entry.get("ingested", 0)),
                status=str(entry.get("remote_status", entry["status"])),
                extra={"size": len(entry["trials"])},
            )
            for batch_id, entry in self.batches.items()
        ]

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "batches_created": self.created,
            "workers": [r.as_dict() for r in self.rows()],
        }
