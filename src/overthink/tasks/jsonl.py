"""``jsonl:<path>``: load the paper's released task format; export samples to it.

One JSON object per line:

* ``prompt`` (string, required) — shown to the model as-is;
* either ``answer`` (string or number) or ``classes`` (list of option texts, at most 8)
  with ``answer_index`` (0-based index of the correct option);
* ``metadata`` (object, optional) — its fields become ``Sample.meta``, so
  ``num_distractors``, ``grid_size``... become analysis axes. Other unknown top-level
  fields are kept in ``meta`` too (the paper's own files spread metadata at top level);
  ``metadata`` wins on a clash. Scalar values are kept as they are; lists and objects
  (e.g. the converter's ``original_data``) are stored as canonical JSON text, so every
  meta value stays hashable for the analysis;
* ``id``, ``system`` and ``kind`` (one of exact/numeric/choice/behaviour/regression) are
  optional; ``overthink tasks export`` writes them so files round-trip exactly.

Kind ``behaviour`` follows the model-written-evals convention (as ``risk`` does):
``answer_index`` is the behaviour-matching option (``metadata.matching_behavior`` may
list several letters), the score is 1 for a matching answer, and ``metadata.polarity``
(``matching_is_safe`` / ``matching_is_unsafe``; absent = unknown) says which way is safe.

An exact-match sample whose meta has zebra's ``options`` (comma-joined, the answer among
them) is scored as zebra scores it: an answer naming exactly one option counts as that
option, so an exported zebra file scores the same as the native task.

Without ``kind``: ``classes`` ⇒ choice; a JSON float answer ⇒ regression; an integer (or
integer-looking string) ⇒ numeric; any other string ⇒ exact match.

The whole file is validated when the task is created: any problem raises ConfigError
naming the file, line number and field, and nothing runs. Blank lines are skipped.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from overthink.core import AnswerKind, Sample, canonical_json
from overthink.errors import ConfigError
from overthink.tasks.base import Task
from overthink.tasks.extract import LETTERS, format_number
from overthink.tasks.registry import register_loader
from overthink.tasks.zebra import Zebra

__all__ = ["JsonlTask", "field_error", "read_objects", "sample_to_json", "write_jsonl"]

_RESERVED = {"prompt", "answer", "classes", "answer_index", "metadata", "kind", "id", "system"}
_INTEGER = re.compile(r"^\s*[-+]?\d+\s*$")
_DECIMAL = re.compile(r"^\s*[-+]?\d+\.\d+\s*$")


def field_error(path: Path | str, line: int, field: str, problem: str) -> ConfigError:
    """The loaders' one error shape: file, line number, field, what is wrong."""
    return ConfigError(f"{path}, line {line}, field '{field}': {problem}")


def read_objects(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for every non-blank line; ConfigError on any bad line."""
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    if not path.is_file():
        raise ConfigError(f"{path}: not a file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{path}, line {lineno}: invalid JSON ({exc.msg} at column {exc.colno})"
            ) from None
        if not isinstance(obj, dict):
            raise ConfigError(f"{path}, line {lineno}: expected a JSON object, got {_jtype(obj)}")
        out.append((lineno, obj))
    if not out:
        raise ConfigError(f"{path}: no samples (the file is empty)")
    return out


def _jtype(value: Any) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _classes(path: Path, line: int, raw: Any) -> list[str]:
    # The paper's files sometimes store the list as a Python-literal string.
    if isinstance(raw, str):
        try:
            raw = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            raise field_error(
                path, line, "classes", "a string that is not a list literal"
            ) from None
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise field_error(path, line, "classes", f"expected a list of strings, got {_jtype(raw)}")
    if not 2 <= len(raw) <= len(LETTERS):
        raise field_error(
            path, line, "classes", f"needs 2 to {len(LETTERS)} options, got {len(raw)}"
        )
    return [c.strip() for c in raw]


def _meta_value(value: Any) -> Any:
    """A meta value analysis can group by: scalars as they are, lists/objects as JSON text.

    Analysis treats every meta field as a possible axis (``nunique``, ``groupby``), which
    needs hashable values; canonical JSON keeps nested data visible and comparable.
    """
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return canonical_json(value)


def _kind(path: Path, line: int, obj: dict[str, Any]) -> AnswerKind | None:
    """The line's explicit ``kind``, or None to infer it from the answer."""
    if "kind" not in obj:
        return None
    try:
        return AnswerKind(obj["kind"])
    except ValueError:
        accepted = ", ".join(k.value for k in AnswerKind)
        raise field_error(path, line, "kind", f"{obj['kind']!r} is not one of {accepted}") from None


def _choice_target(
    path: Path, line: int, obj: dict[str, Any], kind: AnswerKind | None
) -> tuple[list[str], str, AnswerKind]:
    """Options, target letter and kind of a ``classes`` + ``answer_index`` line."""
    if "classes" not in obj:
        raise field_error(path, line, "classes", "missing (answer_index needs classes)")
    if "answer_index" not in obj:
        raise field_error(path, line, "answer_index", "missing (classes needs answer_index)")
    choices = _classes(path, line, obj["classes"])
    index = obj["answer_index"]
    if isinstance(index, bool) or not isinstance(index, int):
        raise field_error(path, line, "answer_index", f"expected an integer, got {_jtype(index)}")
    if not 0 <= index < len(choices):
        raise field_error(
            path, line, "answer_index", f"{index} is out of range for {len(choices)} classes"
        )
    if kind is None:
        kind = AnswerKind.CHOICE
    elif kind not in (AnswerKind.CHOICE, AnswerKind.BEHAVIOUR):
        raise field_error(path, line, "kind", f"{kind.value!r} cannot have classes")
    return choices, LETTERS[index], kind


def _answer_target(
    path: Path, line: int, answer: Any, kind: AnswerKind | None
) -> tuple[str, AnswerKind]:
    """Target and kind of an ``answer`` line (the kind inferred from the answer if unset)."""
    if isinstance(answer, bool) or not isinstance(answer, str | int | float):
        raise field_error(
            path, line, "answer", f"expected a string or number, got {_jtype(answer)}"
        )
    if isinstance(answer, str) and not answer.strip():
        raise field_error(path, line, "answer", "is empty")
    if kind is None:
        if isinstance(answer, float):
            kind = AnswerKind.REGRESSION
        elif isinstance(answer, int) or _INTEGER.match(answer) or _DECIMAL.match(answer):
            kind = AnswerKind.NUMERIC
        else:
            kind = AnswerKind.EXACT
    elif kind in (AnswerKind.CHOICE, AnswerKind.BEHAVIOUR):
        raise field_error(path, line, "classes", f"missing (kind {kind.value!r} needs options)")
    numeric = kind in (AnswerKind.NUMERIC, AnswerKind.REGRESSION)
    if numeric and isinstance(answer, str):
        if not (_INTEGER.match(answer) or _DECIMAL.match(answer)):
            raise field_error(
                path, line, "answer", f"{answer!r} is not a number (kind {kind.value})"
            )
        return answer.strip(), kind
    return (format_number(answer) if isinstance(answer, int | float) else answer), kind


def _parse_line(path: Path, line: int, obj: dict[str, Any], task: str) -> Sample:
    prompt = obj.get("prompt")
    if prompt is None:
        raise field_error(path, line, "prompt", "missing")
    if not isinstance(prompt, str) or not prompt.strip():
        raise field_error(path, line, "prompt", "expected a non-empty string")

    kind = _kind(path, line, obj)
    choices: list[str] | None = None
    if "classes" in obj or "answer_index" in obj:
        choices, target, kind = _choice_target(path, line, obj, kind)
    elif "answer" in obj:
        target, kind = _answer_target(path, line, obj["answer"], kind)
    else:
        raise field_error(
            path, line, "answer", "missing (give 'answer', or 'classes' and 'answer_index')"
        )

    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict):
        raise field_error(path, line, "metadata", f"expected an object, got {_jtype(metadata)}")
    meta = {k: _meta_value(v) for k, v in obj.items() if k not in _RESERVED}
    meta.update((k, _meta_value(v)) for k, v in metadata.items())

    sid = obj.get("id", f"{path.stem}-{line}")
    if isinstance(sid, bool) or not isinstance(sid, str | int):
        raise field_error(path, line, "id", f"expected a string or integer, got {_jtype(sid)}")
    system = obj.get("system")
    if system is not None and not isinstance(system, str):
        raise field_error(path, line, "system", f"expected a string, got {_jtype(system)}")
    return Sample(
        id=str(sid),
        task=task,
        prompt=prompt,
        target=target,
        kind=kind,
        choices=choices,
        system=system,
        meta=meta,
    )


_ZEBRA = Zebra()


def _is_zebra(sample: Sample) -> bool:
    """Whether a sample carries zebra's option list (``meta["options"]``, comma-joined, the
    target among them), as ``overthink tasks export zebra`` writes it."""
    options = sample.meta.get("options")
    if sample.kind is AnswerKind.EXACT and sample.meta.get("scoring") == "grid":
        return "attributes" in sample.meta  # zebra's whole-grid form
    return (
        sample.kind is AnswerKind.EXACT
        and isinstance(options, str)
        and sample.target in options.split(",")
    )


class JsonlTask(Task):
    """Samples read from a JSONL file in the paper's format (validated up front)."""

    knobs = ()

    def __init__(self, path: str) -> None:
        self.path = Path(path).expanduser()
        self.name = f"jsonl:{path}"
        self.description = f"Samples from {self.path}"
        seen: dict[str, int] = {}
        self._samples: list[Sample] = []
        for line, obj in read_objects(self.path):
            sample = _parse_line(self.path, line, obj, self.name)
            if sample.id in seen:
                raise field_error(
                    self.path,
                    line,
                    "id",
                    f"duplicate id {sample.id!r} (first on line {seen[sample.id]})",
                )
            seen[sample.id] = line
            self._samples.append(sample)
        kinds = {s.kind for s in self._samples}
        self.answer_kind = kinds.pop() if len(kinds) == 1 else None

    def __len__(self) -> int:
        return len(self._samples)

    @property
    def available(self) -> int:
        """How many samples the file holds: a run asking for fewer uses only the first
        ``n`` lines, so callers compare this with their ``n`` and say so."""
        return len(self._samples)

    def samples(self, n: int, seed: int, **levels: Any) -> list[Sample]:
        """The first ``n`` samples in file order (the file is the user's canonical order).

        ``seed`` does not reorder a file. Returns the whole file when ``n`` is larger (see
        ``available``).
        """
        self.resolve_levels(levels)
        if n < 0:
            raise ConfigError("n must be >= 0")
        return self._samples[:n]

    def extract(self, sample: Sample, text: str) -> str | None:
        """As the native task would: zebra's parser for exported zebra samples."""
        if _is_zebra(sample):
            return _ZEBRA.extract(sample, text)
        return super().extract(sample, text)

    def score(self, sample: Sample, answer: str | None) -> float | None:
        """As the native task would: an exported zebra sample is option-aware (an answer
        naming exactly one option counts as that option); a behaviour sample scores a
        matching option 1 and no answer None (as ``risk`` does); others use the kind's
        rule."""
        if _is_zebra(sample):
            return _ZEBRA.score(sample, answer)
        if sample.kind is AnswerKind.BEHAVIOUR:
            if answer is None:
                return None
            matching = str(sample.meta.get("matching_behavior", sample.target)).upper()
            letter = answer.strip().upper()
            return 1.0 if len(letter) == 1 and letter in matching else 0.0
        return super().score(sample, answer)


def sample_to_json(sample: Sample) -> dict[str, Any]:
    """One sample as a line of the loader's format (round-trips through ``jsonl:``)."""
    out: dict[str, Any] = {"id": sample.id, "prompt": sample.prompt, "kind": sample.kind.value}
    if sample.choices is not None:
        out["classes"] = list(sample.choices)
        letter = sample.target.strip().upper()
        if len(letter) != 1 or letter not in LETTERS[: len(sample.choices)]:
            raise ValueError(
                f"sample {sample.id}: target {sample.target!r} is not an option letter"
            )
        out["answer_index"] = LETTERS.index(letter)
    else:
        out["answer"] = sample.target
    if sample.system is not None:
        out["system"] = sample.system
    out["metadata"] = dict(sample.meta)
    return out


def write_jsonl(samples: Iterable[Sample], stream: IO[str]) -> int:
    """Write samples as JSONL; returns how many lines were written."""
    count = 0
    for sample in samples:
        stream.write(json.dumps(sample_to_json(sample), ensure_ascii=False) + "\n")
        count += 1
    return count


register_loader(
    "jsonl",
    JsonlTask,
    "a JSONL file in the paper's format (prompt; answer or classes + answer_index; metadata)",
)
