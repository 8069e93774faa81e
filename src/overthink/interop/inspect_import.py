"""``overthink import inspect``: inspect_ai logs → ordinary overthink records.

Mapping (the full table is in ``docs/interop-inspect.md``):

* task, model ← ``eval.task``, ``eval.model``; question ← sample ``id``; the k-th sample
  of a question ← ``epoch`` (``sample_index = epoch - 1``);
* requested budget ← the log's generate config: the first of ``reasoning_tokens``,
  ``reasoning_effort``, ``effort``, ``max_tokens`` that varies across the imported logs
  (or, if none varies, the first one set), mode ``native``. Effort levels have no token
  count, so ``budget_tokens`` holds their rank (none 0 < minimal 1 < low 2 < medium 3 <
  high 4 < xhigh 5 < max 6) and ``resolved`` the level itself;
* observed reasoning tokens ← ``model_usage[model].reasoning_tokens`` (else
  ``output.usage``), else the reasoning content counted with a tokenizer;
* truncation ← ``stop_reason`` in {``max_tokens``, ``model_length``};
* score ← the chosen scorer's value: C 1, I 0, P 0.5, N 0 (and no answer), numbers and
  booleans as they are;
* knobs ← the sample's scalar ``metadata`` (numeric keys become analysis axes).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from overthink.core import AnswerKind, BudgetMode, Record, exceeds_budget
from overthink.errors import ConfigError
from overthink.interop.inspect_log import InspectLog, LogError, ReaderName, open_log
from overthink.interop.runwriter import ImportReport, existing_manifest, write_run
from overthink.interop.sources import SourceFile, record_id
from overthink.interop.tokens import TokenCounter, make_counter

__all__ = ["BUDGET_FIELDS", "EFFORT_RANK", "expand_paths", "import_inspect"]

BUDGET_FIELDS = ("reasoning_tokens", "reasoning_effort", "effort", "max_tokens")
"""Generate-config fields that can carry the requested budget, in order of preference."""

EFFORT_RANK = {"none": 0, "minimal": 1, "low": 2, "medium": 3, "high": 4, "xhigh": 5, "max": 6}
"""Effort levels in order; their rank stands in for a token budget."""

_TRUNCATING = {"max_tokens", "model_length"}
_LETTER = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}
_WORDS = {"yes": 1.0, "true": 1.0, "correct": 1.0, "no": 0.0, "false": 0.0, "incorrect": 0.0}
_BATCH = 256  # samples mapped between two tokenizer calls


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Log files named directly, plus the ``*.eval``/``*.json`` logs of named folders (an
    eval set's log directory), sorted; inspect's own index files are skipped."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.suffix in (".eval", ".json")
                and p.is_file()
                and p.name not in ("eval-set.json", "logs.json", "listing.json")
                and not p.name.startswith(".")
            )
            if not found:
                raise ConfigError(f"{path}: folder holds no inspect logs (*.eval, *.json)")
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            raise ConfigError(f"{path}: no such file or folder")
    return list(dict.fromkeys(out))


def generate_config(header: dict[str, Any]) -> dict[str, Any]:
    """The generate config the log's model ran with (model defaults, then the plan's)."""
    merged: dict[str, Any] = {}
    for part in (
        (header.get("eval") or {}).get("model_generate_config"),
        (header.get("plan") or {}).get("config"),
    ):
        if isinstance(part, dict):
            merged.update({k: v for k, v in part.items() if v is not None})
    return merged


def choose_budget_field(configs: Sequence[dict[str, Any]]) -> str | None:
    """The budget axis: the first field that varies across logs, else the first one set."""
    for name in BUDGET_FIELDS:
        values = {repr(c.get(name)) for c in configs}
        if len(values) > 1:
            return name
    for name in BUDGET_FIELDS:
        if any(c.get(name) is not None for c in configs):
            return name
    return None


def requested_budget(config: dict[str, Any], field: str | None, path: Path) -> tuple[str, int]:
    """(budget_mode, budget_tokens) of one log on the chosen axis."""
    if field is None or config.get(field) is None:
        return BudgetMode.NATURAL.value, -1
    value = config[field]
    if field in ("reasoning_effort", "effort"):
        rank = EFFORT_RANK.get(str(value).lower())
        if rank is None:
            raise LogError(
                f"{path}: {field}={value!r} is not a known effort level "
                f"(known: {', '.join(EFFORT_RANK)})"
            )
        return BudgetMode.NATIVE.value, rank
    try:
        tokens = int(value)
    except (TypeError, ValueError):
        raise LogError(f"{path}: generate config {field}={value!r} is not a token count") from None
    return BudgetMode.NATIVE.value, tokens


@dataclass
class _LogContext:
    log: InspectLog
    source: SourceFile
    run: str
    task: str
    model: str
    eval_id: str
    budget_mode: str
    budget_tokens: int
    budget_field: str | None
    config: dict[str, Any]
    scorer: str | None
    seed: int


def _text_parts(content: Any) -> tuple[str, str]:
    """(visible text, reasoning text) of a message's content (string or parts list)."""
    if isinstance(content, str):
        return content, ""
    texts: list[str] = []
    reasoning: list[str] = []
    for part in content or []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("text") or ""))
        elif kind == "reasoning":
            text = part.get("reasoning") or ""
            if part.get("redacted") and part.get("summary"):
                text = str(part["summary"])
            reasoning.append(str(text))
    return "".join(texts), "\n".join(r for r in reasoning if r)


def _prompt_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_text_parts(m.get("content"))[0] for m in value if isinstance(m, dict))
    return ""


def _usage(sample: dict[str, Any], model: str) -> dict[str, Any] | None:
    per_model = sample.get("model_usage") or {}
    if isinstance(per_model, dict) and per_model:
        if model in per_model:
            return dict(per_model[model])
        if len(per_model) == 1:
            return dict(next(iter(per_model.values())))
    output_usage = (sample.get("output") or {}).get("usage")
    return dict(output_usage) if isinstance(output_usage, dict) else None


def _score(sample: dict[str, Any], scorer: str | None, where: str) -> tuple[float | None, Any, Any]:
    """(score, raw value, scorer's answer) of the chosen scorer; None when unscored."""
    scores = sample.get("scores") or {}
    if not scores:
        return None, None, None
    name, _, key = (scorer or next(iter(scores))).partition("/")
    if name not in scores:
        raise LogError(f"{where}: no scorer {name!r} (scorers: {', '.join(scores)})")
    entry = scores[name] or {}
    raw = entry.get("value")
    value = raw
    if key:
        if not isinstance(raw, dict) or key not in raw:
            raise LogError(f"{where}: scorer {name!r} value has no key {key!r}")
        value = raw[key]
    if isinstance(value, dict | list):
        keys = ", ".join(map(str, value)) if isinstance(value, dict) else "a list"
        raise LogError(
            f"{where}: scorer {name!r} gives {keys} as its value; pick one number with "
            f"--scorer {name}/KEY"
        )
    if isinstance(value, bool):
        return float(value), raw, entry.get("answer")
    if isinstance(value, int | float):
        return float(value), raw, entry.get("answer")
    text = str(value).strip()
    if text in _LETTER:
        return _LETTER[text], raw, (None if text == "N" else entry.get("answer"))
    if text.lower() in _WORDS:
        return _WORDS[text.lower()], raw, entry.get("answer")
    try:
        return float(text), raw, entry.get("answer")
    except ValueError:
        raise LogError(
            f"{where}: scorer {name!r} value {value!r} is not C/I/P/N, a number or a boolean"
        ) from None


def _timestamp(value: Any, fallback: float) -> float:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return fallback
    return fallback


def _scalar_meta(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        return {}
    return {
        str(k): v
        for k, v in metadata.items()
        if isinstance(v, bool | int | float) or (isinstance(v, str) and len(v) <= 64)
    }


def _map_sample(ctx: _LogContext, sample: dict[str, Any]) -> tuple[Record, bool]:
    """One record, and whether its reasoning still has to be counted by a tokenizer."""
    sid = sample.get("id")
    epoch = int(sample.get("epoch") or 1)
    where = f"{ctx.log.path}: sample {sid!r} epoch {epoch}"
    if sid is None:
        raise LogError(f"{ctx.log.path}: a sample has no 'id'")
    output = sample.get("output") or {}
    choices = output.get("choices") or []
    message = (choices[0].get("message") if choices else None) or {}
    response, reasoning = _text_parts(message.get("content"))
    if not response and isinstance(output.get("completion"), str):
        response = output["completion"]
    stop_reason = choices[0].get("stop_reason") if choices else None
    error = sample.get("error")
    error_text = (error.get("message") if isinstance(error, dict) else error) or None
    usage = _usage(sample, ctx.model)
    if usage is None and error_text is None:
        raise LogError(
            f"{where}: no token usage (model_usage and output.usage are both empty); "
            "expected the usage inspect_ai records for every generated sample"
        )
    usage = usage or {}
    score, raw_score, scored_answer = _score(sample, ctx.scorer, where)
    reported = usage.get("reasoning_tokens")
    needs_count = reported is None and bool(reasoning)
    reasoning_tokens = int(reported) if reported is not None else (-1 if reasoning else 0)
    output_tokens = int(usage.get("output_tokens") or 0)
    answer_tokens = (
        max(output_tokens - reasoning_tokens, 0) if reasoning_tokens >= 0 else output_tokens
    )
    answer = scored_answer if scored_answer is not None else (response or None)
    if raw_score == "N":
        answer = None
    target = sample.get("target")
    if isinstance(target, list):
        target = " | ".join(map(str, target))
    violation = (
        ctx.budget_field == "reasoning_tokens"
        and ctx.budget_tokens > 0
        and exceeds_budget(reasoning_tokens, ctx.budget_tokens)
    )
    resolved: dict[str, Any] = {
        "source": ctx.source.describe(),
        "reader": ctx.log.reader,
        "log_version": ctx.log.version,
        "eval_id": ctx.eval_id,
        "sample_uuid": sample.get("uuid"),
        "epoch": epoch,
        "generate_config": {k: ctx.config[k] for k in BUDGET_FIELDS if k in ctx.config},
        "budget_field": ctx.budget_field,
        "stop_reason": stop_reason,
        "scorer": ctx.scorer or next(iter(sample.get("scores") or {}), None),
        "score_value": raw_score,
        "usage": usage,
        "reasoning_tokens_source": "usage" if reported is not None else "unknown",
    }
    record = Record(
        run=ctx.run,
        trial_id=record_id("inspect", ctx.eval_id, ctx.task, str(sid), epoch),
        task=ctx.task,
        sample_id=str(sid),
        model=ctx.model,
        budget_mode=ctx.budget_mode,
        budget_tokens=ctx.budget_tokens,
        resolved=resolved,
        sample_index=epoch - 1,
        seed=ctx.seed,
        prompt=_prompt_text(sample.get("input")),
        prompt_tokens=int(usage.get("input_tokens") or 0),
        reasoning_tokens=reasoning_tokens,
        answer_tokens=answer_tokens,
        reasoning=reasoning,
        response=response,
        answer=None if answer is None else str(answer),
        target="" if target is None else str(target),
        kind=AnswerKind.EXACT.value,
        score=None if error_text else score,
        meta=_scalar_meta(sample.get("metadata")),
        finish_reason=stop_reason,
        truncated_in_reasoning=stop_reason in _TRUNCATING,
        empty_answer=not response.strip(),
        budget_violation=violation,
        latency_s=float(sample.get("total_time") or sample.get("working_time") or 0.0),
        retries=int((sample.get("error_retries") and len(sample["error_retries"])) or 0),
        error=None if error_text is None else str(error_text),
        created_at=_timestamp(sample.get("completed_at"), 0.0),
    )
    return record, needs_count


def _count_batch(
    batch: list[tuple[Record, bool]], counter: TokenCounter | None
) -> Iterator[Record]:
    todo = [rec for rec, needs in batch if needs]
    if todo and counter is not None:
        counts = counter.count([r.reasoning for r in todo])
        for rec, n in zip(todo, counts, strict=True):
            out = int(rec.resolved["usage"].get("output_tokens") or 0)
            rec.reasoning_tokens = n
            rec.answer_tokens = max(out - n, 0)
            rec.resolved["reasoning_tokens_source"] = counter.label
    for rec, _ in batch:
        yield rec


def _records(
    contexts: list[_LogContext], counter: TokenCounter | None, stats: dict[str, int]
) -> Iterator[Record]:
    for ctx in contexts:
        batch: list[tuple[Record, bool]] = []
        for sample in ctx.log.samples():
            rec, needs = _map_sample(ctx, sample)
            stats["uncounted"] += int(needs and counter is None)
            stats["counted"] += int(needs and counter is not None)
            batch.append((rec, needs))
            if len(batch) >= _BATCH:
                yield from _count_batch(batch, counter)
                batch = []
        yield from _count_batch(batch, counter)


def import_inspect(
    paths: Sequence[Path],
    run_dir: Path | None = None,
    *,
    reader: ReaderName = "auto",
    scorer: str | None = None,
    tokenizer: str = "embedded",
    budget_field: str | None = None,
) -> ImportReport:
    """Import inspect logs (files, or folders of logs such as an eval set) into ``run_dir``.

    All logs become one run; ``run_dir`` is created, or added to if it already is a run
    (default: ``runs/<task>-inspect-<hash of the logs>``, so re-importing finds it).
    Nothing is written unless every sample of every log maps cleanly. Raises
    :class:`~overthink.errors.OverthinkError` (one line naming file, sample and field) on
    bad input.
    """
    if budget_field is not None and budget_field not in BUDGET_FIELDS:
        raise ConfigError(
            f"--budget-field {budget_field!r} is not one of: {', '.join(BUDGET_FIELDS)}"
        )
    files = expand_paths(paths)
    if not files:
        raise ConfigError("no inspect logs given")
    logs = [open_log(p, reader) for p in files]
    sources = [SourceFile.of(log.path, f"inspect-{log.format}") for log in logs]
    if run_dir is None:
        task = str(logs[0].header["eval"].get("task") or "inspect").replace("/", "_")
        run_dir = (
            Path("runs") / f"{task}-inspect-{record_id(sorted(s.sha256 for s in sources))[:8]}"
        )
    previous = existing_manifest(run_dir)
    configs = [generate_config(log.header) for log in logs]
    field = budget_field or previous.get("budget_field") or choose_budget_field(configs)
    report = ImportReport(run_dir=run_dir)
    counter = make_counter(tokenizer)
    run = run_dir.name
    contexts: list[_LogContext] = []
    for log, config, source in zip(logs, configs, sources, strict=True):
        ev = log.header["eval"]
        mode, tokens = requested_budget(config, field, log.path)
        contexts.append(
            _LogContext(
                log=log, source=source, run=run, task=str(ev.get("task") or "inspect"),
                model=str(ev.get("model") or "unknown"), eval_id=str(ev.get("eval_id") or
                source.sha256), budget_mode=mode, budget_tokens=tokens, budget_field=field,
                config=config, scorer=scorer, seed=int(config.get("seed") or 0),
            )
        )  # fmt: skip
        status = log.header.get("status")
        if status not in (None, "success"):
            report.notes.append(
                f"{log.path.name}: eval status is {status!r}; importing the samples it holds"
            )
    budgets = sorted({(c.budget_mode, c.budget_tokens) for c in contexts})
    if field is None:
        report.notes.append(
            "no budget axis: the logs set none of " + ", ".join(BUDGET_FIELDS) +
            "; imported as natural (one point per curve; length ranks across epochs still work)"
        )  # fmt: skip
    elif len(budgets) < 2 and not previous:
        report.notes.append(
            f"one budget only ({field}={configs[0].get(field)!r}): curves need logs at "
            "several budgets (import more logs into this run)"
        )
    if field in ("reasoning_effort", "effort"):
        report.notes.append(
            f"{field} levels have no token count: budget_tokens holds their rank "
            "(low 2 < medium 3 < high 4 ...); the level itself is in resolved.generate_config"
        )
    stats = {"counted": 0, "uncounted": 0}
    try:
        added, seen, created = write_run(
            run_dir,
            _records(contexts, counter, stats),
            _manifest(previous, run, field, contexts, budgets),
        )
    finally:
        if counter is not None:
            counter.close()
    if stats["counted"]:
        report.notes.append(
            f"{stats['counted']} samples reported no reasoning_tokens: their reasoning text "
            f"was counted with {counter.label if counter else '-'}"
        )
    if stats["uncounted"]:
        report.notes.append(
            f"{stats['uncounted']} samples reported no reasoning_tokens and --tokenizer none: "
            "their length is unknown (-1) and they stay out of length analyses"
        )
    report.added, report.already, report.created = added, seen - added, created
    return report


def _manifest(
    previous: dict[str, Any],
    run: str,
    field: str | None,
    contexts: list[_LogContext],
    budgets: list[tuple[str, int]],
) -> dict[str, Any]:
    return {
        "name": previous.get("name") or run,
        "source": "inspect_ai",
        "budget_field": field,
        "models": sorted({c.model for c in contexts}),
        "tasks": sorted({c.task for c in contexts}),
        "budgets": [f"{m}:{t}" if t >= 0 else m for m, t in budgets],
        "imports": [c.source.describe() for c in contexts],
    }
