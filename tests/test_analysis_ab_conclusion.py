"""The cube per budget mode, the controlled-vs-natural A/B and the plain-language conclusion.

Every effect here is planted in a synthetic run with known truth (``overthink.testing.synthetic``)
and checked against a matching null, so a claim the tests do not support would fail.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from frames import rows_of
from overthink.analysis import analyze, records_frame
from overthink.cli import app
from overthink.core import Record
from overthink.experiment.store import Store
from overthink.report import write_report
from overthink.testing.synthetic import synthetic_frame


def _with_natural_shift(df: pd.DataFrame, drop: float, seed: int) -> pd.DataFrame:
    """Make natural-budget answers wrong with probability ``drop`` more (planted A/B)."""
    rng = np.random.default_rng(seed)
    out = df.copy()
    natural = (out["budget_mode"] == "natural").to_numpy()
    flip = natural & (out["score"].to_numpy() == 1.0) & (rng.random(len(out)) < drop)
    out.loc[flip, "score"] = 0.0
    out.loc[flip, "answer"] = "5"
    out.loc[flip, "value"] = 0.0
    return out


def test_cube_is_split_by_budget_mode() -> None:
    # Forced budgets with a knob interaction next to a natural run: before, one heatmap
    # and one interaction test mixed both (no budget_mode column at all).
    df = synthetic_frame(
        levels=(0, 3), natural=True, n_questions=40, n_samples=2, slope=-0.01,
        interaction=-0.02, seed=51,
    )  # fmt: skip
    result = analyze(df, n_boot=200)
    assert set(result.cube["budget_mode"]) == {"forced", "natural"}
    slopes = result.cube_slopes
    assert set(slopes["budget_mode"]) == {"forced", "natural"}
    forced = slopes[(slopes["budget_mode"] == "forced") & (slopes["knob"] == "distractors")]
    natural = slopes[(slopes["budget_mode"] == "natural") & (slopes["knob"] == "distractors")]
    # One interaction test per mode, on that mode's records only.
    assert forced["n"].sum() == ((df["budget_mode"] == "forced") & df["valid"]).sum()
    assert natural["n"].sum() == ((df["budget_mode"] == "natural") & df["valid"]).sum()
    assert forced["interaction_p"].nunique() == 1 and natural["interaction_p"].nunique() == 1
    assert forced["interaction_p"].iloc[0] != natural["interaction_p"].iloc[0]
    # Length bins are per mode: natural lengths (~800 tokens) are not forced caps.
    assert not result.cube[result.cube["budget_mode"] == "forced"]["bin_high"].equals(
        result.cube[result.cube["budget_mode"] == "natural"]["bin_high"]
    )


def test_ab_finds_a_planted_natural_drop() -> None:
    df = synthetic_frame(natural=True, n_questions=40, n_samples=4, seed=52)
    result = analyze(_with_natural_shift(df, 0.4, seed=1), n_boot=300)
    ab = result.ab
    matched = ab[(ab["comparison"] == "matched") & (ab["knob"] == "")].iloc[0]
    assert matched["controlled_mode"] == "forced"
    assert matched["significant"] and matched["natural_worse"]
    # 40 % of right answers flipped on accuracy ≈ 0.7: natural ≈ 0.7 − 0.28.
    assert matched["diff_high"] < 0
    assert -0.45 < matched["diff"] < -0.15
    assert "tighten guardrails" in matched["conclusion"]
    per_budget = ab[(ab["comparison"] == "budget") & (ab["knob"] == "")]
    assert sorted(per_budget["budget_tokens"]) == [256, 512, 1024, 2048, 4096]
    # Matched length: the question's natural length (~800 tokens) is nearest 512 or 1024.
    assert 400 < matched["controlled_tokens"] < 1100
    # In the JSON output too.
    payload = json.loads(result.to_json())
    assert any(r["comparison"] == "matched" for r in payload["ab"])
    assert any("tighten guardrails" in line for line in payload["conclusion"]["findings"])


def test_ab_no_difference_is_not_a_finding() -> None:
    hits = 0
    for seed in range(10):
        df = synthetic_frame(natural=True, n_questions=30, n_samples=2, seed=60 + seed)
        ab = analyze(df, n_boot=200, seed=seed).ab
        matched = ab[(ab["comparison"] == "matched") & (ab["knob"] == "")].iloc[0]
        hits += bool(matched["significant"])
        if not matched["significant"]:
            assert "no difference detected" in matched["conclusion"]
    assert hits <= 2  # nominal 5 %


def test_ab_needs_both_regimes() -> None:
    assert analyze(synthetic_frame(n_questions=10, seed=53), n_boot=50).ab.empty


def test_conclusion_says_hurts_only_when_planted() -> None:
    planted = analyze(
        synthetic_frame(n_questions=60, n_samples=4, slope=-0.05, seed=54), n_boot=300
    ).conclusion
    assert any("thinking longer hurts" in f for f in planted.findings)
    assert not any("helps" in f for f in planted.findings)
    null = analyze(synthetic_frame(n_questions=24, n_samples=2, seed=55), n_boot=300).conclusion
    assert len(null.findings) == 1
    assert null.findings[0].startswith("no effect of thinking longer is established")
    assert "hurts" not in " ".join(null.findings) and "helps" not in " ".join(null.findings)
    # Flat at 24 items: the next step asks for 4× the items.
    assert null.next_step.startswith("run --samples 96")


def test_conclusion_gives_the_knob_threshold_from_the_interaction() -> None:
    # Slope per doubling: +0.04 at 0 distractors, +0.04 − 0.025·d: helps at 0, hurts at 5.
    df = synthetic_frame(
        levels=(0, 1, 3, 5), n_questions=60, n_samples=4, slope=0.04, interaction=-0.025,
        base=0.6, question_spread=0.1, seed=56,
    )  # fmt: skip
    lines = analyze(df, n_boot=300).conclusion.lines()
    text = "\n".join(lines)
    assert "more distractors makes it worse" in text
    threshold = next(line for line in lines if "threshold" in line)
    assert re.search(r"still helps at distractors=[01] ", threshold), threshold
    assert re.search(r"hurts from distractors=[35] ", threshold), threshold
    # The same run without the interaction: no knob claim.
    flat = synthetic_frame(
        levels=(0, 1, 3, 5), n_questions=60, n_samples=4, slope=0.0, base=0.6,
        question_spread=0.1, seed=57,
    )  # fmt: skip
    text = "\n".join(analyze(flat, n_boot=300).conclusion.lines())
    assert "makes it worse" not in text and "threshold" not in text


def test_conclusion_with_too_few_items_asks_for_more() -> None:
    result = analyze(synthetic_frame(n_questions=4, n_samples=2, seed=58), n_boot=100)
    assert (result.verdicts["verdict"] == "insufficient").all()
    assert result.conclusion.next_step.startswith("run --samples 12")


def _natural_run(path: Path) -> Path:
    df = _with_natural_shift(synthetic_frame(natural=True, n_questions=24, n_samples=2,
                                             budgets=(64, 256), seed=59), 0.5, seed=2)  # fmt: skip
    rows = rows_of(df.drop(columns=["question", "failed", "parse_failure", "value", "valid",
                                    "total_tokens"]))  # fmt: skip
    records = records_frame(rows)
    path.mkdir(parents=True)
    with Store.of_run(path, readonly=False) as store:
        store.add_many(Record(**_record_fields(r)) for r in rows_of(records))
    return path


def _record_fields(row: dict[str, object]) -> dict[str, object]:
    meta = {k[5:]: v for k, v in row.items() if str(k).startswith("meta.")}
    fields = {k: v for k, v in row.items() if k in Record.model_fields and k != "meta"}
    fields["resolved"] = json.loads(str(fields["resolved"]))
    return {**fields, "meta": meta}


def test_analyze_prints_the_ab_table_and_ends_with_the_conclusion(tmp_path: Path) -> None:
    run = _natural_run(tmp_path / "run")
    result = CliRunner().invoke(app, ["analyze", str(run), "--n-boot", "200"],
                                env={"COLUMNS": "250"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Controlled vs natural budgets" in result.output
    tail = result.output[result.output.index("Conclusion (only from tests that passed)") :]
    assert "natural reasoning does worse than forced" in tail
    assert tail.strip().splitlines()[-1].strip().startswith("next step:")
    assert (run / "analysis" / "ab.csv").is_file()
    assert "next step:" in (run / "analysis" / "conclusion.txt").read_text()


def test_report_opens_with_the_conclusion_and_has_the_ab_section(tmp_path: Path) -> None:
    run = _natural_run(tmp_path / "run")
    page = write_report(run).read_text(encoding="utf-8")
    sections = re.findall(r'<section id="([^"]+)">', page)
    assert sections[0] == "conclusion" and "ab" in sections
    conclusion = re.search(r'<section id="conclusion">(.*?)</section>', page, re.S)
    assert conclusion and "next step: " in conclusion.group(1)
    ab = re.search(r'<section id="ab">(.*?)</section>', page, re.S)
    assert ab and "matched length" in ab.group(1) and "tighten guardrails" in ab.group(1)
