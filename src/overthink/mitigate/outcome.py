"""Compare arms to the baseline and write the results: table, JSON, CSV and a plot.

Files written under ``RUN_DIR/mitigate/`` (each atomically): ``mitigate.json`` (every
effect with its CIs and each mitigation's detail — what the report section reads),
``mitigate.csv`` (one row per arm), ``mitigate.png``/``.svg`` (paired differences with
95 % CIs: metric on the left, generated tokens on the right) and, when ``router`` ran,
``policy.yaml`` (the learnt router, ready for ``overthink proxy --policy``).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from overthink.formatting import fmt_fixed
from overthink.mitigate.arms import Arm
from overthink.mitigate.compare import Effect, paired_effect
from overthink.mitigate.context import MITIGATE_DIR, RunContext, arm_frame

__all__ = ["JSON_FILE", "Outcome", "compare_arms", "effects_table_rows", "write_outcome"]

JSON_FILE = "mitigate.json"


@dataclass
class Outcome:
    """Every arm's paired effect against the baseline."""

    baseline: str
    baseline_summary: dict[str, float]
    effects: list[Effect]
    metric: str
    higher_is_better: bool
    generated: int = 0
    reused: int = 0
    files: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "baseline": self.baseline,
            "baseline_summary": self.baseline_summary,
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "generated_trials": self.generated,
            "reused_trials": self.reused,
            "effects": [e.as_dict() for e in self.effects],
        }


def compare_arms(ctx: RunContext, arms: list[Arm], *, n_boot: int = 2000) -> Outcome:
    """Paired effects of every arm against the baseline records."""
    from overthink.analysis.frame import family_of_kind

    base_records = ctx.baseline_records()
    base = arm_frame(base_records)
    kinds = {r.kind for r in base_records}
    family = family_of_kind(next(iter(kinds))) if kinds else "accuracy"
    effects = [
        paired_effect(
            arm.name,
            base,
            arm.frame,
            n_boot=n_boot,
            seed=ctx.config.seed,
            detail={"mitigation": arm.mitigation, **arm.detail},
        )
        for arm in arms
    ]
    summary = {
        "metric": float(base["value"].mean()) if len(base) else float("nan"),
        "tokens": float(base["tokens"].mean()) if len(base) else float("nan"),
        "latency_s": float(base["latency_s"].mean()) if len(base) else float("nan"),
        "n_questions": float(base["question"].nunique()),
    }
    return Outcome(
        baseline=ctx.baseline.label,
        baseline_summary=summary,
        effects=effects,
        metric=family,
        higher_is_better=family != "regression",
        generated=ctx.generated,
        reused=ctx.reused,
    )


def _ci(e: Effect, key: str, digits: int) -> str:
    lo, hi = e.ci[key]
    # The interval on a second line (as in `overthink run`'s table) keeps it narrow.
    mid = fmt_fixed(e.diff[key], digits, sign=True)
    return f"{mid}\n[{fmt_fixed(lo, digits, sign=True)},{fmt_fixed(hi, digits, sign=True)}]"


def _arrow(before: float, after: float, digits: int) -> str:
    return f"{fmt_fixed(before, digits)}→{fmt_fixed(after, digits)}"


def effects_table_rows(outcome: Outcome) -> list[dict[str, str]]:
    """One display row per arm (strings), shared by the CLI table and the report."""
    rows = []
    for e in outcome.effects:
        rows.append(
            {
                "mitigation": e.name,
                "n": str(e.n_questions),
                "metric": _arrow(e.baseline["value"], e.mitigated["value"], 2),
                "Δ metric": _ci(e, "value", 2),
                "tokens": _arrow(e.baseline["tokens"], e.mitigated["tokens"], 0),
                "Δ tokens": _ci(e, "tokens", 0),
                "Δ latency s": _ci(e, "latency_s", 2),
                "gen/reused": f"{e.detail.get('generated', 0)}/{e.detail.get('reused', 0)}",
            }
        )
    return rows


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def plot_effects(outcome: Outcome) -> Any:
    """Forest plot: Δ metric and Δ generated tokens per arm, with 95 % CIs."""
    from matplotlib.figure import Figure

    effects = outcome.effects
    fig = Figure(figsize=(9.0, 0.5 * len(effects) + 1.6))
    ax_m, ax_t = fig.subplots(1, 2, sharey=True)
    ys = list(range(len(effects)))[::-1]
    for ax, key, label in (
        (ax_m, "value", f"Δ {outcome.metric} vs baseline"),
        (ax_t, "tokens", "Δ generated tokens per question"),
    ):
        for y, e in zip(ys, effects, strict=True):
            mid = e.diff[key]
            lo, hi = e.ci[key]
            if mid != mid:
                continue
            ax.errorbar([mid], [y], xerr=[[mid - lo], [hi - mid]], fmt="o", color="#0072B2",
                        ecolor="#56B4E9", capsize=3)  # fmt: skip
        ax.axvline(0.0, color="#999999", lw=1, ls="--")
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    ax_m.set_yticks(ys, [e.name for e in effects])
    fig.suptitle(f"Mitigations vs baseline {outcome.baseline} (paired, 95% cluster-bootstrap CI)",
                 fontsize=10)  # fmt: skip
    fig.tight_layout()
    return fig


def write_outcome(ctx: RunContext, outcome: Outcome, arms: list[Arm]) -> dict[str, Path]:
    """Write JSON, CSV, the plot and (with a router) policy.yaml under RUN_DIR/mitigate/."""
    import io

    folder = ctx.run_dir / MITIGATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    data = outcome.as_dict()
    _atomic_write(folder / JSON_FILE, json.dumps(data, indent=2, default=str).encode())
    files["json"] = folder / JSON_FILE
    rows = []
    for e in outcome.effects:
        rows.append({
            "mitigation": e.name, "kind": e.detail.get("mitigation"), "n_questions": e.n_questions,
            **{f"baseline_{k}": v for k, v in e.baseline.items()},
            **{f"mitigated_{k}": v for k, v in e.mitigated.items()},
            **{f"diff_{k}": v for k, v in e.diff.items()},
            **{f"ci_low_{k}": v[0] for k, v in e.ci.items()},
            **{f"ci_high_{k}": v[1] for k, v in e.ci.items()},
        })  # fmt: skip
    _atomic_write(folder / "mitigate.csv", pd.DataFrame(rows).to_csv(index=False).encode())
    files["csv"] = folder / "mitigate.csv"
    if outcome.effects:
        fig = plot_effects(outcome)
        for ext in ("png", "svg"):
            buf = io.BytesIO()
            fig.savefig(buf, format=ext, dpi=110)
            _atomic_write(folder / f"mitigate.{ext}", buf.getvalue())
            files[ext] = folder / f"mitigate.{ext}"
    for arm in arms:
        if arm.mitigation == "router":
            policy = {"router": arm.detail["policy"]}
            text = "# Learnt by `overthink mitigate --with router` from " + str(ctx.run_dir)
            text += "\n" + yaml.safe_dump(policy, sort_keys=False)
            _atomic_write(folder / "policy.yaml", text.encode())
            files["policy"] = folder / "policy.yaml"
    outcome.files = {k: str(v) for k, v in files.items()}
    return files
