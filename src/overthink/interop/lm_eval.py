"""``overthink import lm-eval``: lm-evaluation-harness ``--log_samples`` output → records.

lm-eval writes, per run, ``results_<date>.json`` (configs, metrics, model) and one
``samples_<task>_<date>.jsonl`` per task: one ``SampleResult`` line per (document, filter)
with ``doc_id``, ``target``, ``arguments`` (the prompt and the generation kwargs),
``resps`` (requests × repeats × raw text), ``filtered_resps``, ``filter``, ``metrics`` and
each metric's value. The mapping (full table: ``docs/interop-lm-eval.md``):

* task, model ← the samples file's task, the results file's model; question ← ``doc_id``;
* requested budget ← ``max_gen_toks`` of the request's generation kwargs, mode ``native``;
* score ← the chosen ``--metric`` under the chosen ``--filter``;
* reasoning ← the text inside ``<think>…</think>`` of the *raw* response (an unclosed block
  is a trace cut by ``max_gen_toks``), counted with ``--tokenizer``;
* repeats (``repeats: N``) ← one record per repeat when the filter kept one answer per
  repeat; when it reduced them to one answer (``take_first``, ``majority_vote``), the
  per-repeat scores do not exist: the document's score becomes one strategy record
  ``<filter>@N`` whose tokens are the sums over its N repeats.

What cannot be recovered is said in one line each and never guessed: with
``think_end_token`` set, lm-eval strips the thinking before logging, so lengths are unknown
(-1); without any ``max_gen_toks`` spread there is no budget axis.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overthink.core import AnswerKind, BudgetMode, Record
from overthink.errors import ConfigError, OverthinkError
from overthink.interop.runwriter import ImportReport, existing_manifest, write_run
from overthink.interop.sources import SourceFile, record_id
from overthink.interop.tokens import TokenCounter, make_counter

__all__ = ["LmEvalError", "import_lm_eval", "split_thinking"]

_RESULTS = re.compile(r"^results_(?P<date>.+)\.json$")
_REQUIRED = ("doc_id", "resps", "filtered_resps", "filter", "metrics")
_REDUCERS = ("majority_vote", "take_first_k")


class LmEvalError(OverthinkError):
    """Bad lm-eval output (one line naming file, line and field)."""


def split_thinking(text: str, open_tag: str, close_tag: str) -> tuple[str | None, str, bool]:
    """(reasoning or None when there is no thinking block, answer text, cut inside thinking).

    ``<think>a</think>b`` → ("a", "b", False); ``a</think>b`` (the opening tag was in the
    prompt, as chat templates of Qwen3 and R1 distills do) → ("a", "b", False);
    ``<think>a`` (never closed: cut by max_gen_toks) → ("a", "", True).
    """
    start = text.find(open_tag)
    end = text.find(close_tag)
    if end >= 0 and (start < 0 or start < end):
        begin = start + len(open_tag) if start >= 0 else 0
        return text[begin:end].strip(), text[end + len(close_tag) :].strip(), False
    if start >= 0:
        return text[start + len(open_tag) :].strip(), "", True
    return None, text.strip(), False


@dataclass
class _TaskFile:
    task: str
    path: Path
    results: dict[str, Any]
    source: SourceFile
    model: str
    think_end_token: str | None


@dataclass
class _Options:
    metric: str | None
    filter: str | None
    open_tag: str
    close_tag: str
    run: str
    counter: TokenCounter | None
    stats: dict[str, Any] = field(default_factory=dict)


def _model_args(results: dict[str, Any]) -> dict[str, Any]:
    raw = (results.get("config") or {}).get("model_args")
    if isinstance(raw, dict):
        return raw
    out: dict[str, Any] = {}
    if isinstance(raw, str):
        for part in raw.split(","):
            key, sep, value = part.partition("=")
            if sep:
                out[key.strip()] = value.strip()
    return out


def _find(dirs: Sequence[Path]) -> list[_TaskFile]:
    files: list[_TaskFile] = []
    for folder in dirs:
        if not folder.exists():
            raise ConfigError(f"{folder}: no such folder")
        candidates = [folder] if folder.is_file() else sorted(folder.rglob("results_*.json"))
        if not candidates:
            raise ConfigError(
                f"{folder}: no results_*.json inside (is it an lm-eval --output_path?)"
            )
        for res_path in candidates:
            found = _RESULTS.match(res_path.name)
            if not found:
                raise ConfigError(f"{res_path}: not an lm-eval results_<date>.json file")
            try:
                results = json.loads(res_path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise LmEvalError(f"{res_path}: not valid JSON ({exc})") from None
            if not isinstance(results, dict) or not isinstance(results.get("results"), dict):
                raise LmEvalError(f"{res_path}: field 'results' missing: not lm-eval results")
            args = _model_args(results)
            model = str(
                results.get("model_name") or args.get("pretrained") or args.get("model")
                or (results.get("config") or {}).get("model") or "unknown"
            )  # fmt: skip
            think_end = args.get("think_end_token")
            tasks = sorted((results.get("configs") or results["results"]).keys())
            for task in tasks:
                sample_path = res_path.with_name(f"samples_{task}_{found['date']}.jsonl")
                if not sample_path.is_file():
                    if task in (results.get("group_subtasks") or {}):
                        continue  # a group: its subtasks have the samples
                    raise LmEvalError(
                        f"{res_path}: task {task!r} has no {sample_path.name} beside it "
                        "(run lm-eval with --log_samples)"
                    )
                files.append(
                    _TaskFile(
                        task=task, path=sample_path, results=results,
                        source=SourceFile.of(sample_path, "lm-eval-samples"), model=model,
                        think_end_token=None if think_end in (None, "", "None") else str(think_end),
                    )
                )  # fmt: skip
    return files


def _lines(tf: _TaskFile) -> Iterator[tuple[int, dict[str, Any]]]:
    with tf.path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LmEvalError(f"{tf.path}:{number}: not valid JSON ({exc.msg})") from None
            if not isinstance(value, dict):
                raise LmEvalError(f"{tf.path}:{number}: expected a JSON object (a SampleResult)")
            missing = [k for k in _REQUIRED if k not in value]
            if missing:
                raise LmEvalError(
                    f"{tf.path}:{number}: SampleResult lacks {', '.join(missing)} "
                    "(expected lm-eval --log_samples output)"
                )
            yield number, value


def _gen_kwargs(sample: dict[str, Any], tf: _TaskFile) -> dict[str, Any]:
    args = sample.get("arguments") or {}
    first = args.get("gen_args_0") if isinstance(args, dict) else None
    kwargs = first.get("arg_1") if isinstance(first, dict) else None
    if isinstance(kwargs, dict):
        return kwargs
    config = (tf.results.get("configs") or {}).get(tf.task) or {}
    value = config.get("generation_kwargs")
    return value if isinstance(value, dict) else {}


def _filter_reduces(tf: _TaskFile, name: str) -> bool:
    """Whether the task's filter pipeline ``name`` reduces the repeats to one answer."""
    config = (tf.results.get("configs") or {}).get(tf.task) or {}
    for entry in config.get("filter_list") or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            steps = [s.get("function") for s in entry.get("filter") or [] if isinstance(s, dict)]
            return any(s in ("take_first", *_REDUCERS) for s in steps)
    return True  # lm-eval's default for repeats is take_first


def _records(files: list[_TaskFile], opt: _Options) -> Iterator[Record]:
    stats = opt.stats
    for tf in files:
        lines = 0
        chosen: str | None = opt.filter
        filters: list[str] = []
        for number, sample in _lines(tf):
            lines += 1
            where = f"{tf.path}:{number}"
            filt = str(sample["filter"])
            if filt not in filters:
                filters.append(filt)
            chosen = chosen or filt  # default: the task's first filter
            if filt != chosen:
                continue
            metrics = sample.get("metrics") or []
            metric = opt.metric or (metrics[0] if metrics else None)
            if metric is None or metric not in sample:
                raise LmEvalError(
                    f"{where}: metric {metric!r} not in this sample (metrics: "
                    f"{', '.join(map(str, metrics)) or 'none'}); choose one with --metric"
                )
            for rec in _doc_records(tf, sample, metric, filt, where, opt):
                stats["records"] = stats.get("records", 0) + 1
                yield rec
        if lines == 0:
            raise LmEvalError(
                f"{tf.path}: empty samples file (no SampleResult lines); expected lm-eval "
                "--log_samples output"
            )
        stats.setdefault("filters", {})[tf.task] = filters
        stats.setdefault("chosen", {})[tf.task] = chosen
        if chosen not in filters:
            stats.setdefault("skipped", []).append(f"{tf.task} (filters: {', '.join(filters)})")
    if not stats.get("records"):
        raise LmEvalError(
            f"nothing to import: no task has filter {opt.filter!r} "
            f"({'; '.join(stats.get('skipped', []))})"
        )


def _responses(sample: dict[str, Any], where: str) -> list[str]:
    """The generated texts of a doc's first request (one per repeat)."""
    resps = sample["resps"]
    if not (isinstance(resps, list) and resps and isinstance(resps[0], list)):
        raise LmEvalError(f"{where}: 'resps' is not a list of per-request lists of responses")
    if resps[0] and not isinstance(resps[0][0], str):
        raise LmEvalError(
            f"{where}: responses are log-likelihoods (a multiple-choice task): no generated "
            "text, so no reasoning length; import generation tasks only"
        )
    return [r if isinstance(r, str) else json.dumps(r) for r in resps[0]]


def _doc_score(sample: dict[str, Any], metric: str, where: str) -> float | None:
    try:
        return None if sample[metric] is None else float(sample[metric])
    except (TypeError, ValueError):
        raise LmEvalError(
            f"{where}: metric {metric!r} = {sample[metric]!r} is not a number"
        ) from None


def _doc_records(
    tf: _TaskFile, sample: dict[str, Any], metric: str, filt: str, where: str, opt: _Options
) -> Iterator[Record]:
    stats = opt.stats
    raw = _responses(sample, where)
    kwargs = _gen_kwargs(sample, tf)
    max_gen = kwargs.get("max_gen_toks")
    mode, budget = (
        (BudgetMode.NATIVE.value, int(max_gen))
        if max_gen is not None
        else (BudgetMode.NATURAL.value, -1)
    )
    stats.setdefault("budgets", set()).add((mode, budget))
    doc_score = _doc_score(sample, metric, where)
    filtered = sample["filtered_resps"]
    filtered0 = filtered[0] if isinstance(filtered, list) and filtered else None
    n = len(raw)
    doc_id = sample["doc_id"]
    target = str(sample.get("target", ""))
    prompt = (sample.get("arguments") or {}).get("gen_args_0", {}).get("arg_0", "")
    traces: list[tuple[str | None, str, bool]] = []
    for text in raw:
        if tf.think_end_token:
            traces.append((None, text, False))
        else:
            traces.append(split_thinking(text, opt.open_tag, opt.close_tag))
    per_repeat = n > 1 and isinstance(filtered0, list) and len(filtered0) == n
    reduced = n > 1 and not per_repeat and _filter_reduces(tf, filt)
    base = {
        "run": opt.run, "task": tf.task, "model": tf.model, "budget_mode": mode,
        "budget_tokens": budget, "target": target, "kind": AnswerKind.EXACT.value,
        "prompt": prompt if isinstance(prompt, str) else "",
    }  # fmt: skip
    resolved = {
        "source": tf.source.describe(), "doc_id": doc_id, "doc_hash": sample.get("doc_hash"),
        "prompt_hash": sample.get("prompt_hash"), "filter": filt, "metric": metric,
        "generation_kwargs": kwargs, "repeats": n, "think_end_token": tf.think_end_token,
    }  # fmt: skip
    records: list[Record] = []
    for r, (reasoning, answer_text, cut) in enumerate(traces):
        if reduced and r > 0:
            break
        if per_repeat:
            answer = str(filtered0[r]) if filtered0 is not None else None
            score = None if answer is None else float(answer.strip() == target.strip())
            score_note = "per-repeat exact match of the filtered answer to the target"
        else:
            answer = None if filtered0 is None else str(filtered0)
            score = doc_score
            score_note = f"lm-eval {metric} under filter {filt}"
        records.append(
            Record(
                **base,
                trial_id=record_id("lm-eval", tf.source.sha256, tf.task, doc_id, filt, metric, r),
                sample_id=str(doc_id),
                sample_index=r,
                resolved={**resolved, "repeat": r, "score_source": score_note},
                reasoning=reasoning or "",
                reasoning_tokens=-1,
                response=answer_text,
                answer=answer,
                score=score,
                finish_reason="max_gen_toks" if cut else None,
                truncated_in_reasoning=cut,
                empty_answer=not answer_text.strip(),
            )
        )
    known = [
        rec
        for rec, (reasoning, _, _) in zip(records, traces, strict=False)
        if reasoning is not None
    ]
    unknown = len(records) - len(known)
    if known and opt.counter is not None:
        counts = opt.counter.count([rec.reasoning for rec in known])
        for rec, count in zip(known, counts, strict=True):
            rec.reasoning_tokens = count
            rec.resolved["reasoning_tokens_source"] = opt.counter.label
        stats["counted"] = stats.get("counted", 0) + len(known)
    elif known:
        stats["uncounted"] = stats.get("uncounted", 0) + len(known)
    if unknown:
        key = "stripped" if tf.think_end_token else "no_think"
        stats[key] = stats.get(key, 0) + unknown
    if reduced:
        stats["reduced"] = stats.get("reduced", 0) + 1
        lengths = [
            (len(reasoning) if reasoning is not None else None) for reasoning, _, _ in traces
        ]
        records[0].resolved["other_repeats_reasoning_chars"] = lengths[1:]
        if _filter_reduces(tf, filt) and not _is_take_first_only(tf, filt):
            # A vote over N repeats: the doc score belongs to the strategy, not a repeat.
            records = [_strategy_record(records[0], traces, filt, n, doc_score, opt)]
    yield from records


def _is_take_first_only(tf: _TaskFile, name: str) -> bool:
    config = (tf.results.get("configs") or {}).get(tf.task) or {}
    for entry in config.get("filter_list") or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            steps = [s.get("function") for s in entry.get("filter") or [] if isinstance(s, dict)]
            return not any(s in _REDUCERS for s in steps)
    return True


def _strategy_record(
    first: Record,
    traces: list[tuple[str | None, str, bool]],
    filt: str,
    n: int,
    score: float | None,
    opt: _Options,
) -> Record:
    texts = [t[0] for t in traces]
    tokens = -1
    if all(t is not None for t in texts) and opt.counter is not None:
        tokens = sum(opt.counter.count([t or "" for t in texts]))
    data = first.model_dump()
    data.update(
        trial_id=record_id("lm-eval-strategy", first.trial_id, n),
        strategy=filt if filt.endswith(f"@{n}") else f"{filt}@{n}",
        reasoning_tokens=tokens,
        sample_index=0,
        score=score,
    )
    data["resolved"] = {
        **first.resolved,
        "score_source": f"lm-eval doc score of filter {filt} over {n} repeats",
    }
    return Record.model_validate(data)


def import_lm_eval(
    dirs: Sequence[Path],
    run_dir: Path | None = None,
    *,
    metric: str | None = None,
    filter_name: str | None = None,
    tokenizer: str = "embedded",
    think_open: str = "<think>",
    think_close: str = "</think>",
) -> ImportReport:
    """Import lm-eval ``--output_path`` folders (results + samples files) into ``run_dir``.

    One run for all of them (e.g. one lm-eval run per ``max_gen_toks``); ``run_dir`` is
    created or added to. Nothing is written unless every line maps cleanly.
    """
    files = _find(dirs)
    if not files:
        raise ConfigError("no lm-eval samples files found")
    if run_dir is None:
        digest = record_id(sorted(f.source.sha256 for f in files))[:8]
        run_dir = Path("runs") / f"{files[0].task}-lm-eval-{digest}"
    previous = existing_manifest(run_dir)
    opt = _Options(
        metric=metric, filter=filter_name, open_tag=think_open, close_tag=think_close,
        run=run_dir.name, counter=make_counter(tokenizer),
    )  # fmt: skip
    try:
        added, seen, created = write_run(
            run_dir,
            _records(files, opt),
            {
                "name": previous.get("name") or run_dir.name,
                "source": "lm-eval",
                "models": sorted({f.model for f in files}),
                "tasks": sorted({f.task for f in files}),
                "imports": [f.source.describe() for f in files],
            },
        )
    finally:
        if opt.counter is not None:
            opt.counter.close()
    report = ImportReport(run_dir=run_dir, added=added, already=seen - added, created=created)
    _notes(report, opt, files)
    return report


def _notes(report: ImportReport, opt: _Options, files: list[_TaskFile]) -> None:
    stats = opt.stats
    many = {t: f for t, f in stats.get("filters", {}).items() if len(f) > 1}
    if many and opt.filter is None:
        listing = "; ".join(f"{t}: {', '.join(f)}" for t, f in sorted(many.items()))
        report.notes.append(
            f"several filters ({listing}); imported each task's first (choose with --filter)"
        )
    if stats.get("skipped"):
        report.notes.append(
            f"no filter {opt.filter!r} in {', '.join(dict.fromkeys(stats['skipped']))}: "
            "those tasks were skipped"
        )
    chosen = opt.filter or "the chosen filter"
    budgets = stats.get("budgets", set())
    if len(budgets) < 2:
        only = next(iter(budgets), ("natural", -1))
        report.notes.append(
            "no budget axis: every request had "
            + (f"max_gen_toks={only[1]}" if only[1] >= 0 else "no max_gen_toks")
            + "; curves have one point (import runs at other max_gen_toks into this run)"
        )
    if stats.get("stripped"):
        tokens = sorted({f.think_end_token for f in files if f.think_end_token})
        report.notes.append(
            f"think_end_token {', '.join(map(repr, tokens))} was set: lm-eval stripped the "
            f"thinking before logging, so {stats['stripped']} responses have no reasoning "
            "length (recorded as unknown, -1); scores are imported"
        )
    if stats.get("no_think"):
        report.notes.append(
            f"{stats['no_think']} responses have no {opt.open_tag}…{opt.close_tag} block: "
            "their reasoning length is unknown (-1); set --think-open/--think-close if the "
            "model marks its thinking differently"
        )
    if stats.get("reduced"):
        report.notes.append(
            f"{stats['reduced']} documents had repeats that filter {chosen!r} reduced to one "
            "answer: per-repeat scores do not exist; imported the document score on the "
            "repeat the filter took (take_first) or as a strategy record (votes)"
        )
    if stats.get("uncounted"):
        report.notes.append(
            f"{stats['uncounted']} reasoning texts not counted (--tokenizer none): lengths unknown"
        )
