"""Executors beyond the local default: Ray actors and provider batch APIs.

``make_executor`` turns a config's ``executor`` setting into an object that runs a
plan's pending trials (``overthink.experiment.execution.RunExecutor``). Ray is imported
only when the Ray executor runs, so ``overthink[ray]`` stays an optional extra.
"""

from __future__ import annotations

import os

from overthink.experiment.config import ExperimentConfig
from overthink.experiment.execution import EXECUTORS, LocalExecutor, RunExecutor
from overthink.experiment.session import engine_options

__all__ = ["EXECUTORS", "make_executor"]

DEFAULT_RAY_WORKERS = 2


def make_executor(config: ExperimentConfig) -> RunExecutor:
    """The executor a config asks for (errors are one line, before anything runs)."""
    if config.executor == "local":
        if config.address is not None:
            raise_config("--address only applies to --executor ray")
        return LocalExecutor()
    if config.executor == "ray":
        from overthink.executors.ray_executor import (
            EngineFactory,
            RayExecutor,
            check_address,
            import_ray,
        )

        # Inside `ray job submit`, Ray says where the cluster is in RAY_ADDRESS.
        address = config.address or os.environ.get("RAY_ADDRESS") or None
        import_ray(loopback=not address)  # the missing extra is named first
        if address:
            check_address(address)  # a closed address fails in seconds
        options = engine_options(config)
        from overthink.engines.embedded import default_slots
        from overthink.engines.registry import DEFAULT_CONCURRENCY, get_provider

        in_process = any((p := get_provider(m)) is not None and p.in_process for m in config.models)
        # Unset concurrency: the engine's own default (the embedded server's measured best
        # slot count; otherwise the registry's default, as the local runner uses).
        slots = (
            1
            if config.deterministic
            else (config.concurrency or (default_slots() if in_process else DEFAULT_CONCURRENCY))
        )
        workers = config.workers or DEFAULT_RAY_WORKERS
        env: dict[str, str] = {}
        if in_process and not address and "OVERTHINK_THREADS" not in os.environ:
            # Actors on this machine share its cores: split them rather than each server
            # taking every idle core (llama.cpp threads stall when oversubscribed).
            cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
            env["OVERTHINK_THREADS"] = str(max(1, cores // (workers * len(config.models))))
        return RayExecutor(
            factory=EngineFactory(options),
            workers=workers,
            slots=slots,
            address=address,
            env=env,
        )
    from overthink.executors.batch import BATCH_MODES, BatchExecutor

    # Checked from the config, before any engine starts or any folder is written.
    for model in config.models:
        if model.partition("/")[0] not in ("openai", "anthropic"):
            raise_config(
                f"--executor batch: model {model!r} has no batch API "
                "(use openai/<model> or anthropic/<model>, or --executor local)"
            )
    for budget in config.parsed_budgets():
        if budget.mode not in BATCH_MODES:
            raise_config(
                f"--executor batch runs single-call budgets (none, natural, prompt, native); "
                f"{budget.label} needs several calls (use --executor local)"
            )
    return BatchExecutor(poll_s=config.batch_poll_s)


def raise_config(message: str) -> None:
    """Raise a ConfigError (kept here so callers stay one line)."""
    from overthink.errors import ConfigError

    raise ConfigError(message)
