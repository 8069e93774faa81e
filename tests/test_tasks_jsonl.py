"""jsonl: loading the paper's task format, malformed files, export round-trips."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from overthink.analysis import analyze, records_frame
from overthink.core import AnswerKind, Record
from overthink.errors import ConfigError
from overthink.tasks import get_task
from overthink.tasks.jsonl import sample_to_json, write_jsonl
from overthink.tasks.levels import level_grid


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_paper_format_with_metadata_becomes_meta(tmp_path: Path) -> None:
    rows = [
        {"prompt": "How many?", "answer": "2", "metadata": {"num_distractors": 3}},
        {"prompt": "Pick", "classes": ["x", "y", "z"], "answer_index": 2,
         "metadata": {"grid_size": "4x4"}},
        {"prompt": "Grade?", "answer": 7.5, "examples_per_prompt": 16},
        {"prompt": "Who?", "answer": "the Norwegian"},
        {"prompt": "Pick", "classes": "['yes', 'no']", "answer_index": 0},
        {"prompt": "Count", "answer": 3},
    ]  # fmt: skip
    path = _write_lines(tmp_path / "mine.jsonl", [json.dumps(r) for r in rows] + [""])
    task = get_task(f"jsonl:{path}")
    s = task.samples(100, 0)
    assert len(s) == 6 and task.answer_kind is None
    assert s[0].kind is AnswerKind.NUMERIC and s[0].target == "2"
    assert s[0].meta == {"num_distractors": 3}
    assert s[1].kind is AnswerKind.CHOICE and s[1].target == "C" and s[1].choices == ["x", "y", "z"]
    assert s[1].meta == {"grid_size": "4x4"}
    assert s[2].kind is AnswerKind.REGRESSION and s[2].target == "7.5"
    assert s[2].meta == {"examples_per_prompt": 16}  # top-level extras kept, as the paper does
    assert s[3].kind is AnswerKind.EXACT
    assert s[4].choices == ["yes", "no"] and s[4].target == "A"
    assert s[5].target == "3" and s[5].kind is AnswerKind.NUMERIC
    assert s[0].task == f"jsonl:{path}" and s[0].id == "mine-1"
    assert task.samples(2, 0) == s[:2]
    assert task.samples(2, 99) == s[:2]  # a file is not reshuffled by the seed
    with pytest.raises(ConfigError, match="no knob"):
        task.samples(2, 0, distractors=3)


GOOD = '{"prompt": "p", "answer": "2"}'


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        ("{not json", "line 2: invalid JSON"),
        ("[1, 2]", "line 2: expected a JSON object"),
        ('{"answer": "2"}', "line 2, field 'prompt': missing"),
        ('{"prompt": "", "answer": "2"}', "line 2, field 'prompt'"),
        ('{"prompt": 5, "answer": "2"}', "line 2, field 'prompt'"),
        ('{"prompt": "p"}', "line 2, field 'answer': missing"),
        ('{"prompt": "p", "answer": null}', "line 2, field 'answer'"),
        ('{"prompt": "p", "answer": ""}', "line 2, field 'answer': is empty"),
        ('{"prompt": "p", "classes": ["a", "b"]}', "line 2, field 'answer_index': missing"),
        ('{"prompt": "p", "answer_index": 0}', "line 2, field 'classes': missing"),
        ('{"prompt": "p", "classes": ["a", "b"], "answer_index": 2}', "field 'answer_index': 2"),
        ('{"prompt": "p", "classes": ["a", "b"], "answer_index": "0"}', "field 'answer_index'"),
        ('{"prompt": "p", "classes": ["a"], "answer_index": 0}', "field 'classes': needs 2"),
        ('{"prompt": "p", "classes": [1, 2], "answer_index": 0}', "field 'classes'"),
        ('{"prompt": "p", "classes": "oops", "answer_index": 0}', "field 'classes'"),
        ('{"prompt": "p", "answer": "2", "metadata": [1]}', "field 'metadata'"),
        ('{"prompt": "p", "answer": "2", "kind": "vibes"}', "field 'kind'"),
        ('{"prompt": "p", "answer": "two", "kind": "numeric"}', "field 'answer'"),
        ('{"prompt": "p", "answer": "2", "kind": "choice"}', "field 'classes'"),
        ('{"prompt": "p", "answer": "2", "id": "x"}', None),  # fine on its own
    ],
)
def test_malformed_lines_name_file_line_and_field(
    tmp_path: Path, bad: str, expected: str | None
) -> None:
    path = _write_lines(tmp_path / "bad.jsonl", [GOOD, bad])
    if expected is None:
        get_task(f"jsonl:{path}")
        return
    with pytest.raises(ConfigError) as err:
        get_task(f"jsonl:{path}")
    message = str(err.value)
    assert message.startswith(str(path))
    assert expected in message


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        get_task(f"jsonl:{tmp_path / 'missing.jsonl'}")
    empty = _write_lines(tmp_path / "empty.jsonl", [""])
    with pytest.raises(ConfigError, match="no samples"):
        get_task(f"jsonl:{empty}")
    dup = _write_lines(
        tmp_path / "dup.jsonl",
        ['{"id": "a", "prompt": "p", "answer": "1"}', '{"id": "a", "prompt": "q", "answer": "2"}'],
    )
    with pytest.raises(ConfigError, match="line 2, field 'id': duplicate id 'a'"):
        get_task(f"jsonl:{dup}")
    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        get_task(f"jsonl:{binary}")
    with pytest.raises(ConfigError, match="give a path"):
        get_task("jsonl:")


@pytest.mark.parametrize(
    "name",
    [
        "misleading_math",
        "misleading_python",
        "famous_paradoxes",
        "grades_regression",
        "zebra",
        "risk",
    ],
)
def test_export_round_trips_through_the_loader(tmp_path: Path, name: str) -> None:
    task = get_task(name)
    samples = [s for lv in level_grid(task, {}) for s in task.samples(2, 0, **lv)][:8]
    buf = io.StringIO()
    assert write_jsonl(samples, buf) == len(samples)
    path = tmp_path / f"{name}.jsonl"
    path.write_text(buf.getvalue(), encoding="utf-8")
    loaded = get_task(f"jsonl:{path}").samples(len(samples) + 5, 0)
    assert len(loaded) == len(samples)
    for a, b in zip(samples, loaded, strict=True):
        assert a.model_dump(exclude={"task"}) == b.model_dump(exclude={"task"})
        # Extraction and default scoring agree on both sides of the round trip.
        reply = f"<answer>{a.target}</answer>"
        assert task.score(a, task.extract(a, reply)) == get_task(f"jsonl:{path}").score(
            b, task.extract(b, reply)
        )


def test_sample_to_json_uses_the_paper_fields() -> None:
    (s,) = get_task("famous_paradoxes").samples(1, 0, framing="light")
    row = sample_to_json(s)
    assert row["classes"] == s.choices
    assert row["answer_index"] == "ABC".index(s.target)
    assert row["metadata"]["framing"] == "light"
    assert "answer" not in row


def test_nested_metadata_is_kept_as_json_text_and_analysis_runs(tmp_path: Path) -> None:
    rows = [
        {"prompt": f"How many? {i}", "answer": "2", "tags": ["top", "level"],
         "metadata": {"d": [1, 2], "original_data": {"x": 1, "a": [i]}, "level": i, "ok": None}}
        for i in range(2)
    ]  # fmt: skip
    path = _write_lines(tmp_path / "nested.jsonl", [json.dumps(r) for r in rows])
    samples = get_task(f"jsonl:{path}").samples(10, 0)
    assert samples[0].meta == {
        "d": "[1,2]",
        "original_data": '{"a":[0],"x":1}',
        "tags": '["top","level"]',
        "level": 0,
        "ok": None,
    }
    records = [
        Record(
            run="r",
            trial_id=f"{s.id}-{b}",
            task=s.task,
            sample_id=s.id,
            model="m",
            budget_mode="forced",
            budget_tokens=b,
            answer="2",
            target=s.target,
            score=float(b > 64),
            reasoning_tokens=b,
            meta=s.meta,
        )
        for s in samples
        for b in (64, 128, 256)
    ]
    result = analyze(records_frame(records), n_boot=20)  # used to raise "unhashable type"
    assert not result.curves.empty


def test_exported_zebra_scores_like_the_native_task(tmp_path: Path) -> None:
    native = get_task("zebra")
    samples = native.samples(3, 0, grid=4)
    buf = io.StringIO()
    write_jsonl(samples, buf)
    path = tmp_path / "zebra.jsonl"
    path.write_text(buf.getvalue(), encoding="utf-8")
    reloaded = get_task(f"jsonl:{path}")
    for a, b in zip(samples, reloaded.samples(10, 0), strict=True):
        wrong = next(o for o in str(a.meta["options"]).split(",") if o != a.target)
        replies = {
            f"<answer>{a.target}</answer>": 1.0,
            f"The answer is {a.target}.": 1.0,
            f"<answer>the {a.target}</answer>": 1.0,
            f"<think>maybe {wrong}</think>\nIt is the {a.target}.": 1.0,
            f"<answer>the {wrong}</answer>": 0.0,
            f"The answer is {wrong}.": 0.0,
            f"<answer>{a.target} or {wrong}</answer>": 0.0,
        }
        for reply, expected in replies.items():
            got_native = native.score(a, native.extract(a, reply))
            got_jsonl = reloaded.score(b, reloaded.extract(b, reply))
            assert got_native == expected, reply
            assert got_jsonl == got_native, reply


def test_available_reports_the_whole_file(tmp_path: Path) -> None:
    lines = [json.dumps({"prompt": f"q{i}", "answer": str(i)}) for i in range(300)]
    task = get_task(f"jsonl:{_write_lines(tmp_path / 'big.jsonl', lines)}")
    assert getattr(task, "available", None) == 300  # the caller warns when n < available
    assert len(task.samples(12, 0)) == 12
    everything = task.samples(1000, 0)  # more than the file: the whole file, in order
    assert len(everything) == 300 and [s.target for s in everything] == [str(i) for i in range(300)]
    assert task.samples(0, 0) == []
