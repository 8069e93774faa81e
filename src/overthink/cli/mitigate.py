"""``overthink mitigate RUN_DIR --with cap,early_exit,...``: mitigations vs the baseline."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from overthink.cli.app import RunDirArgument, app
from overthink.cli.app import console as make_console

if TYPE_CHECKING:
    from overthink.mitigate.outcome import Outcome

__all__ = ["mitigate"]


def _names(value: str, accepted: tuple[str, ...], what: str) -> list[str]:
    from overthink.errors import ConfigError

    out = []
    for raw in value.split(","):
        name = raw.strip().lower().replace("-", "_")
        if not name:
            continue
        if name not in accepted:
            raise ConfigError(f"{what}: unknown {name!r} (accepted: {', '.join(accepted)})")
        if name not in out:
            out.append(name)
    if not out:
        raise ConfigError(f"{what}: empty list (accepted: {', '.join(accepted)})")
    return out


@app.command()
def mitigate(
    run_dir: RunDirArgument,
    with_: Annotated[
        str,
        typer.Option("--with", help="Mitigations: cap,early_exit,hygiene,verify,prompt,router."),
    ] = "cap,early_exit,hygiene,verify,prompt,router",
    baseline: Annotated[
        str | None,
        typer.Option(help="Unmitigated baseline budget (default: the run's largest budget)."),
    ] = None,
    questions: Annotated[
        int | None,
        typer.Option(
            min=1, help="Compare on the first N base questions only (all their knob levels)."
        ),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option(min=0.0, help="cap/router: cheapest budget within this of the best metric."),
    ] = 0.0,
    rule: Annotated[str, typer.Option(help="early_exit rule: dynasor or deer.")] = "dynasor",
    chunk: Annotated[int, typer.Option(min=1, help="early_exit: tokens between probes.")] = 32,
    k: Annotated[int, typer.Option(min=1, help="early_exit (dynasor): agreeing probes.")] = 3,
    threshold: Annotated[
        float, typer.Option(help="early_exit (deer): mean token probability to exit.")
    ] = 0.95,
    hygiene: Annotated[
        str, typer.Option(help="hygiene cleaners: rules,lexical,model.")
    ] = "rules,lexical,model",
    prompts: Annotated[
        str, typer.Option(help="prompt mitigations: cautioned,ignore_irrelevant,simplify_first.")
    ] = "cautioned,ignore_irrelevant,simplify_first",
    verify_n: Annotated[int, typer.Option(min=2, help="verify: samples per question.")] = 4,
    prm_url: Annotated[
        str | None, typer.Option(help="verify: a PRM's pooling endpoint (vLLM) base URL.")
    ] = None,
    prm_model: Annotated[str, typer.Option(help="verify: the PRM's model name.")] = "prm",
    prm_aggregation: Annotated[str, typer.Option(help="PRM steps: min, last or prod.")] = "min",
    router_proxy: Annotated[
        str, typer.Option(help="router: distractor proxy to segment on.")
    ] = "numbers",
    deterministic: Annotated[
        bool, typer.Option(help="One request in flight, no prompt cache: repeatable outputs.")
    ] = False,
    boot: Annotated[int, typer.Option(min=100, help="Bootstrap resamples.")] = 2000,
    json_: Annotated[bool, typer.Option("--json", help="Print the JSON result.")] = False,
) -> None:
    """Re-run RUN_DIR's questions under each mitigation and compare with the baseline.

    Paired per question; 95 % intervals resample base items. Stored records are reused
    wherever no new generation is needed (cap, router, unchanged prompts, earlier calls).
    """
    from overthink.engines import Engine, make_engine
    from overthink.engines.registry import DEFAULT_CONCURRENCY
    from overthink.errors import ConfigError
    from overthink.experiment.session import engine_options
    from overthink.mitigate.arms import MITIGATIONS, Arm, MitigateOptions, run_arms
    from overthink.mitigate.context import load_context
    from overthink.mitigate.early_exit import EarlyExitConfig
    from overthink.mitigate.hygiene import CLEANERS
    from overthink.mitigate.outcome import compare_arms, write_outcome
    from overthink.mitigate.prm import AGGREGATIONS, PRMVerifier
    from overthink.mitigate.prompts import PROMPT_MITIGATIONS
    from overthink.mitigate.router import RouterPolicy

    names = _names(with_, MITIGATIONS, "--with")
    if prm_aggregation not in AGGREGATIONS:
        raise ConfigError(
            f"--prm-aggregation {prm_aggregation!r}: expected one of {', '.join(AGGREGATIONS)}"
        )
    RouterPolicy(proxy=router_proxy, default_budget=0).check()
    options = MitigateOptions(
        tolerance=tolerance,
        early_exit=EarlyExitConfig(rule=rule, chunk=chunk, k=k, threshold=threshold),  # type: ignore[arg-type]
        hygiene=tuple(_names(hygiene, CLEANERS, "--hygiene")),
        prompts=tuple(_names(prompts, tuple(PROMPT_MITIGATIONS), "--prompts")),
        verify_n=verify_n,
        router_proxy=router_proxy,
    )
    ctx = load_context(
        Path(run_dir), baseline=baseline, questions=questions,
        deterministic=True if deterministic else None,
    )  # fmt: skip
    # An unset concurrency means "the server's slot count"; mitigations keep the default.
    options.concurrency = 1 if deterministic else ctx.config.concurrency or DEFAULT_CONCURRENCY

    async def engine_factory() -> Engine:
        engine = make_engine(ctx.model, engine_options(ctx.config))
        await engine.check()
        return engine

    ctx.engine_factory = engine_factory

    async def go() -> list[Arm]:
        try:
            if prm_url:
                options.verifiers.append(
                    PRMVerifier(prm_url, prm_model, aggregation=prm_aggregation)
                )
            if "verify" in names and any(r.kind == "behaviour" for r in ctx.records):
                from overthink.mitigate.safety import SafetyVerifier

                options.verifiers.append(SafetyVerifier(await ctx.engine()))
            arms = await run_arms(ctx, names, options)
        finally:
            await ctx.aclose()
        return arms

    arms = asyncio.run(go())
    outcome = compare_arms(ctx, arms, n_boot=boot)
    files = write_outcome(ctx, outcome, arms)
    if json_:
        typer.echo(json.dumps(outcome.as_dict(), indent=2, default=str))
        return
    _print_outcome(outcome, files)


def _print_outcome(outcome: Outcome, files: dict[str, Path]) -> None:
    """The effects table, one line of detail per mitigation, and what was written."""
    from overthink.mitigate.outcome import effects_table_rows

    out = make_console()
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"Mitigations vs baseline {outcome.baseline} · {outcome.metric} · "
        f"{int(outcome.baseline_summary['n_questions'])} questions",
        caption="Δ = mitigated − baseline, paired per question, [95% CI] resampling base "
        "items. tokens = generated per question (reasoning + answer + probes, extraction, "
        "verifiers). Latency compares wall times of separate runs: contended, indicative.",
    )
    rows = effects_table_rows(outcome)
    for col in rows[0] if rows else {"mitigation": ""}:
        table.add_column(col, justify="left" if col == "mitigation" else "right", no_wrap=True)
    for row in rows:
        table.add_row(*row.values())
    out.print(table)
    for e in outcome.effects:
        d = e.detail
        if d.get("mitigation") == "cap":
            out.print(f"cap: budget {d['budget']} ({d['rule']}); per held-out fold "
                      f"{d['fold_budgets']}", highlight=False)  # fmt: skip
        if d.get("mitigation") == "early_exit":
            out.print(
                f"{e.name}: exits {d['exits']}; tokens saved: reasoning "
                f"{d['reasoning_tokens_saved']} + answer {d['answer_tokens_saved']} − probes "
                f"{d['probe_tokens']} = net {d['net_tokens_saved']} (over all questions)",
                highlight=False,
            )
        if d.get("mitigation") == "hygiene":
            out.print(f"{e.name}: removed {d.get('removed_pieces', 0)} pieces "
                      f"({d.get('removed_chars', 0)} chars)", highlight=False)  # fmt: skip
        if d.get("mitigation") == "router":
            fixed = ", ".join(
                f"{f['budget']}: {f['metric']:.3f}/{f['tokens']:.0f} tok"
                for f in d["fixed_budgets"]
            )
            out.print(
                f"router (held-out): {d['router_metric']:.3f} at {d['router_tokens']:.0f} tok; "
                f"fixed budgets {fixed}", highlight=False,
            )  # fmt: skip
    out.print(
        f"{outcome.generated} mitigated trials generated, {outcome.reused} reused; "
        + " ".join(f"{k}: {v}" for k, v in files.items()),
        highlight=False,
        soft_wrap=True,
    )
