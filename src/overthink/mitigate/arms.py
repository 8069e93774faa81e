"""The mitigations ``overthink mitigate`` compares, each producing one or more *arms*.

An arm is a set of records (or a frame of per-record measures) over the baseline's
questions. ``cap`` and ``router`` reuse the run's stored records (no generation);
``prompt``, ``hygiene``, ``early_exit`` and ``verify`` generate, on the run's own model,
at the baseline's budget, and store what they generate for reuse.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from overthink.analysis.frame import family_of_kind
from overthink.core import Record, Trial
from overthink.engines.base import Engine
from overthink.experiment.plan import sample_seed
from overthink.mitigate.choose import choose_budget, fold_of
from overthink.mitigate.context import RunContext, arm_frame, cluster_of, forced_generation
from overthink.mitigate.early_exit import EarlyExitConfig, think_with_early_exit
from overthink.mitigate.hygiene import Cleaned, clean_lexical, clean_model, clean_rules
from overthink.mitigate.prompts import PROMPT_MITIGATIONS, prompt_system
from overthink.mitigate.router import RouterPolicy, learn_router, proxy_value
from overthink.reasoning.forcing import thinking_prefix
from overthink.reasoning.generate import THINK_FIRST, Generation, answer_forced, build_messages
from overthink.strategies.base import StrategyName
from overthink.strategies.records import strategy_record
from overthink.strategies.verifiers.base import Verifier
from overthink.strategies.verify import verify_records
from overthink.strategies.vote import choose
from overthink.tasks.extract import answer_key

__all__ = ["MITIGATIONS", "Arm", "MitigateOptions", "run_arms"]

MITIGATIONS = ("cap", "early_exit", "hygiene", "verify", "prompt", "router")


@dataclass
class MitigateOptions:
    """Knobs of the mitigations (CLI flags)."""

    tolerance: float = 0.0
    """cap/router: cheapest budget within this of the best metric (0: the best)."""
    early_exit: EarlyExitConfig = field(default_factory=EarlyExitConfig)
    hygiene: tuple[str, ...] = ("rules", "lexical", "model")
    prompts: tuple[str, ...] = tuple(PROMPT_MITIGATIONS)
    verify_n: int = 4
    verify_temperature: float = 0.7
    verifiers: list[Verifier] = field(default_factory=list)
    """Extra verifiers for ``verify`` (PRM, safety...); the run's own are added."""
    router_proxy: str = "numbers"
    concurrency: int = 4
    policy_out: str | None = None


@dataclass
class Arm:
    """One mitigated configuration, measured per record."""

    name: str
    mitigation: str
    frame: pd.DataFrame
    detail: dict[str, Any] = field(default_factory=dict)


def _higher_is_better(ctx: RunContext) -> bool:
    kinds = {r.kind for r in ctx.records}
    return all(family_of_kind(k) != "regression" for k in kinds)


def _sweep_frame(ctx: RunContext) -> pd.DataFrame:
    """Every budget of the baseline's mode for the selected questions, sample 0."""
    keep = ctx.selected_questions()
    rows = [
        r for r in ctx.records
        if r.budget_mode == ctx.baseline.mode.value and r.sample_index == 0
        and f"{r.task}/{r.sample_id}" in keep
    ]  # fmt: skip
    frame = arm_frame(rows)
    frame["budget"] = [r.budget_tokens for r in rows]
    frame["task"] = [r.task for r in rows]
    frame["fold"] = [fold_of(cluster_of(r)) for r in rows]
    frame["prompt_proxy"] = [0.0] * len(rows)
    frame.attrs["prompts"] = [r.prompt for r in rows]
    return frame


def cap_arm(ctx: RunContext, options: MitigateOptions) -> list[Arm]:
    """The budget chosen from the run's curves, cross-fitted; stored records reused."""
    frame = _sweep_frame(ctx)
    hib = _higher_is_better(ctx)
    full = choose_budget(frame, tolerance=options.tolerance, higher_is_better=hib)
    parts = []
    folds: dict[int, int] = {}
    for fold in sorted(frame["fold"].unique()):
        train = frame[frame["fold"] != fold]
        in_sample = train.empty
        source = frame if in_sample else train
        choice = choose_budget(source, tolerance=options.tolerance, higher_is_better=hib)
        folds[int(fold)] = choice.budget
        test = frame[(frame["fold"] == fold) & (frame["budget"] == choice.budget)]
        parts.append(test)
    mitigated = pd.concat(parts) if parts else frame.iloc[0:0]
    detail = {
        "budget": full.budget,
        "rule": full.rule,
        "tolerance": options.tolerance,
        "best_budget": full.best_budget,
        "fold_budgets": folds,
        "cross_fitted": len(folds) > 1,
        "generated": 0,
        "reused": len(mitigated),
    }
    return [Arm(f"cap:{full.budget}", "cap", mitigated, detail)]


def router_arm(ctx: RunContext, options: MitigateOptions) -> list[Arm]:
    """A learnt router, judged on held-out questions against every fixed budget."""
    frame = _sweep_frame(ctx)
    frame["prompt_proxy"] = [proxy_value(p, options.router_proxy) for p in frame.attrs["prompts"]]
    hib = _higher_is_better(ctx)
    parts = []
    for fold in sorted(frame["fold"].unique()):
        train = frame[frame["fold"] != fold]
        policy = learn_router(
            train if not train.empty else frame, proxy=options.router_proxy,
            tolerance=options.tolerance, higher_is_better=hib,
        )  # fmt: skip
        test = frame[frame["fold"] == fold]
        prompts = pd.Series(frame.attrs["prompts"], index=frame.index)[test.index]
        routed = [policy.budget_for(p, t) for p, t in zip(prompts, test["task"], strict=True)]
        parts.append(test[test["budget"].to_numpy() == pd.Series(routed, index=test.index)])
    mitigated = pd.concat(parts) if parts else frame.iloc[0:0]
    policy = learn_router(
        frame, proxy=options.router_proxy, tolerance=options.tolerance, higher_is_better=hib
    )
    fixed = []
    for budget in sorted(frame["budget"].unique()):
        at = frame[frame["budget"] == budget]
        fixed.append({"budget": int(budget), "metric": float(at["value"].mean()),
                      "tokens": float(at["tokens"].mean())})  # fmt: skip
    detail = {
        "policy": policy.model_dump(mode="json", exclude_none=True),
        "held_out": "two-fold cross-fitting by base item",
        "router_metric": float(mitigated["value"].mean()) if len(mitigated) else None,
        "router_tokens": float(mitigated["tokens"].mean()) if len(mitigated) else None,
        "fixed_budgets": fixed,
        "generated": 0,
        "reused": len(mitigated),
    }
    return [Arm("router", "router", mitigated, detail)]


def _variant(ctx: RunContext, trial: Trial, label: str) -> Trial:
    # A distinct strategy label gives the mitigated trial its own identity in the store.
    return trial.model_copy(update={"strategy": f"mitigate:{label}"})


async def _generated_arm(
    ctx: RunContext,
    label: str,
    mitigation: str,
    produce: Callable[[Engine, Trial], Awaitable[tuple[Generation, dict[str, Any]]]],
    options: MitigateOptions,
    detail: dict[str, Any] | None = None,
) -> tuple[Arm, list[Record]]:
    trials = [_variant(ctx, t, label) for t in ctx.baseline_trials()]
    before_gen, before_reuse = ctx.generated, ctx.reused
    records = await ctx.run_trials(trials, produce, concurrency=options.concurrency)
    info = {
        **(detail or {}),
        "generated": ctx.generated - before_gen,
        "reused": ctx.reused - before_reuse,
        "errors": sum(r.error is not None for r in records),
    }
    return Arm(label, mitigation, arm_frame(records), info), records


async def prompt_arms(ctx: RunContext, options: MitigateOptions) -> list[Arm]:
    """Each prompt mitigation at the baseline's budget."""
    arms = []
    for name in options.prompts:
        system = prompt_system(name, ctx.cap)

        async def produce(
            engine: Engine, trial: Trial, system: str = system, name: str = name
        ) -> tuple[Generation, dict[str, Any]]:
            gen = await forced_generation(
                engine, trial, system=system, cap=ctx.cap, enforcement=f"prompt-{name}"
            )
            return gen, {"name": f"prompt:{name}", "system": system, "overhead_tokens": 0}

        arm, _ = await _generated_arm(
            ctx, f"prompt:{name}", "prompt", produce, options, {"system": system}
        )
        arms.append(arm)
    return arms


async def _clean(how: str, prompt: str, engine: Engine | None) -> Cleaned:
    if how == "rules":
        return clean_rules(prompt)
    if how == "lexical":
        return clean_lexical(prompt)
    assert engine is not None
    return await clean_model(prompt, engine)


async def hygiene_arms(ctx: RunContext, options: MitigateOptions) -> list[Arm]:
    """Each cleaner; a prompt it leaves unchanged reuses the baseline record."""
    arms = []
    baseline = {f"{r.task}/{r.sample_id}": r for r in ctx.baseline_records()}
    for how in options.hygiene:

        async def produce(
            engine: Engine, trial: Trial, how: str = how
        ) -> tuple[Generation, dict[str, Any]]:
            cleaned = await _clean(how, trial.sample.prompt, engine)
            clean_trial = trial.model_copy(
                update={"sample": trial.sample.model_copy(update={"prompt": cleaned.prompt})}
            )
            gen = await forced_generation(
                engine, clean_trial, system=THINK_FIRST, cap=ctx.cap, enforcement="hygiene"
            )
            return gen, {"name": f"hygiene:{how}", "cleaned_prompt": cleaned.prompt,
                         **cleaned.facts()}  # fmt: skip

        if how == "model":
            arm, records = await _generated_arm(ctx, f"hygiene:{how}", "hygiene", produce, options)
        else:
            # Rule and lexical cleaning are pure: a prompt they leave unchanged is the
            # baseline trial itself, so its stored record is reused.
            changed = []
            same: list[Record] = []
            removed_total = 0
            for trial in ctx.baseline_trials():
                cleaned = await _clean(how, trial.sample.prompt, None)
                if cleaned.removed:
                    changed.append(trial)
                    removed_total += len(cleaned.removed)
                elif (rec := baseline.get(f"{trial.sample.task}/{trial.sample.id}")) is not None:
                    same.append(rec)
            trials = [_variant(ctx, t, f"hygiene:{how}") for t in changed]
            before = ctx.generated, ctx.reused
            records = await ctx.run_trials(trials, produce, concurrency=options.concurrency)
            arm = Arm(
                f"hygiene:{how}", "hygiene", arm_frame([*records, *same]),
                {"generated": ctx.generated - before[0],
                 "reused": ctx.reused - before[1] + len(same),
                 "unchanged_prompts": len(same)},
            )  # fmt: skip
        removed = [r.resolved.get("mitigation", {}).get("removed", []) for r in records]
        arm.detail["removed_pieces"] = sum(len(x) for x in removed)
        arm.detail["removed_chars"] = sum(
            int(r.resolved.get("mitigation", {}).get("removed_chars", 0)) for r in records
        )
        arm.detail["examples_removed"] = [p for x in removed for p in x][:5]
        arms.append(arm)
    return arms


async def early_exit_arms(ctx: RunContext, options: MitigateOptions) -> list[Arm]:
    """Dynasor-CoT (or DEER) early exit at the baseline's cap."""
    config = options.early_exit
    tasks = ctx.plan.tasks

    async def produce(engine: Engine, trial: Trial) -> tuple[Generation, dict[str, Any]]:
        task = tasks[trial.sample.task]

        def extract(text: str) -> str | None:
            return answer_key(task.extract(trial.sample, text), trial.sample.kind.value)

        prefix, _ = await thinking_prefix(engine, build_messages(trial, THINK_FIRST))
        import time

        started = time.perf_counter()
        run = await think_with_early_exit(
            engine, prefix, cap=ctx.cap, config=config, answer_tokens=trial.max_answer_tokens,
            extract=extract, temperature=trial.temperature, seed=trial.seed,
        )  # fmt: skip
        resolved = {
            **engine.describe(), "budget": trial.budget.label, "enforcement": "early_exit",
            "reasoning_cap": ctx.cap, "system": THINK_FIRST,
            "thinking_requests": run.trace.requests,
        }  # fmt: skip
        if run.answer_probe is not None:
            probe = run.answer_probe
            gen = Generation(
                reasoning=run.trace.reasoning.strip(), response=probe.text,
                prompt_tokens=run.trace.prompt_tokens, reasoning_tokens=run.trace.tokens,
                answer_tokens=probe.tokens, finish_reason=probe.finish_reason,
                truncated_in_reasoning=False, enforced_cap=ctx.cap,
                resolved={**resolved, "answer_request": probe.request},
                retries=run.trace.retries,
            )  # fmt: skip
        else:
            gen = await answer_forced(
                engine, trial, run.trace, enforced_cap=ctx.cap, resolved=resolved,
                retries=run.trace.retries,
            )  # fmt: skip
        gen.latency_s = time.perf_counter() - started
        return gen, {"name": f"early_exit:{config.rule}", **config.describe(), **run.facts()}

    label = f"early_exit:{config.rule}"
    arm, records = await _generated_arm(
        ctx, label, "early_exit", produce, options, {"config": config.describe()}
    )
    facts = [r.resolved.get("mitigation", {}) for r in records]
    arm.detail["exits"] = {
        reason: sum(f.get("exit_reason") == reason for f in facts)
        for reason in ("early_exit", "cap", "natural")
    }
    arm.detail["probe_tokens"] = sum(int(f.get("probe_tokens", 0)) for f in facts)
    base = {f"{r.task}/{r.sample_id}": r for r in ctx.baseline_records()}
    saved = answer_saved = 0
    for r in records:
        b = base.get(f"{r.task}/{r.sample_id}")
        if b is not None:
            saved += max(b.reasoning_tokens, 0) - max(r.reasoning_tokens, 0)
            answer_saved += b.answer_tokens - r.answer_tokens
    arm.detail["reasoning_tokens_saved"] = saved
    arm.detail["answer_tokens_saved"] = answer_saved
    # What the table's Δ tokens reports, summed over questions (with its sign flipped).
    arm.detail["net_tokens_saved"] = saved + answer_saved - arm.detail["probe_tokens"]
    return [arm]


def _verifier_tokens(record: Record) -> int:
    details = record.resolved.get("verifier_details") or {}
    return sum(
        int(d.get("prompt_tokens", 0)) + int(d.get("completion_tokens", 0))
        for d in details.values() if isinstance(d, dict)
    )  # fmt: skip


async def verify_arms(ctx: RunContext, options: MitigateOptions) -> list[Arm]:
    """Best-of-N and weighted vote over N samples at the baseline's budget.

    A run with N ≥ 2 samples per question and verifier scores is reused as it is; else
    N samples are generated (temperature ``verify_temperature``) and scored by the run's
    verifiers plus ``options.verifiers`` (rubric when there are none).
    """
    from overthink.strategies.verifiers import make_verifiers, parse_verifiers, verifier_class

    n = options.verify_n
    trials: list[Trial] = []
    for t in ctx.baseline_trials():
        for i in range(n):
            trials.append(
                t.model_copy(
                    update={
                        "strategy": "mitigate:verify-sample",
                        "sample_index": i,
                        "seed": sample_seed(ctx.config.seed, i),
                        "temperature": options.verify_temperature,
                    }
                )
            )

    async def produce(engine: Engine, trial: Trial) -> tuple[Generation, dict[str, Any]]:
        gen = await forced_generation(
            engine, trial, system=THINK_FIRST, cap=ctx.cap, enforcement="verify-sample"
        )
        return gen, {"name": "verify-sample", "overhead_tokens": 0}

    before = ctx.generated, ctx.reused
    samples = await ctx.run_trials(trials, produce, concurrency=options.concurrency)
    names = list(ctx.config.verifiers) or ["rubric"]
    needs_engine = any(verifier_class(v).needs_engine for v in parse_verifiers(names))
    judge = await ctx.engine() if needs_engine else None
    verifiers = [*make_verifiers(names, judge_engine=judge), *options.verifiers]
    scored, report = await verify_records(samples, verifiers, concurrency=options.concurrency)
    groups: dict[str, list[Record]] = {}
    for r in scored:
        groups.setdefault(f"{r.task}/{r.sample_id}", []).append(r)
    arms = []
    for strategy in (StrategyName.MAJORITY, StrategyName.BEST_OF_N, StrategyName.WEIGHTED):
        out = []
        for members in groups.values():
            members.sort(key=lambda r: r.sample_index)
            rec = strategy_record(members, strategy, choose(strategy, members))
            # Verifier calls (judge, safety, PRM) are paid for: count them as overhead.
            overhead = sum(_verifier_tokens(m) for m in members)
            rec.resolved = {**rec.resolved, "mitigation": {"overhead_tokens": overhead}}
            out.append(rec)
        arms.append(
            Arm(
                f"verify:{strategy}@{n}",
                "verify",
                arm_frame(out),
                {
                    "verifiers": [v.describe() for v in verifiers],
                    "n": n,
                    "temperature": options.verify_temperature,
                    "verifier_failures": dict(report.failed),
                    "generated": ctx.generated - before[0],
                    "reused": ctx.reused - before[1],
                },
            )
        )
    return arms


async def run_arms(ctx: RunContext, names: list[str], options: MitigateOptions) -> list[Arm]:
    """Every arm of the named mitigations, in ``MITIGATIONS`` order."""
    arms: list[Arm] = []
    for name in MITIGATIONS:
        if name not in names:
            continue
        if name == "cap":
            arms.extend(cap_arm(ctx, options))
        elif name == "router":
            arms.extend(router_arm(ctx, options))
        elif name == "prompt":
            arms.extend(await prompt_arms(ctx, options))
        elif name == "hygiene":
            arms.extend(await hygiene_arms(ctx, options))
        elif name == "early_exit":
            arms.extend(await early_exit_arms(ctx, options))
        elif name == "verify":
            arms.extend(await verify_arms(ctx, options))
    return arms


def router_policy(arm: Arm) -> RouterPolicy:
    """The router policy learnt on all questions (from a router arm's detail)."""
    return RouterPolicy.model_validate(arm.detail["policy"])
