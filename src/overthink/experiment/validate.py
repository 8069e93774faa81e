"""Checks run before any engine starts or any file is written: sizes, ranges, the run folder.

Each failure is a :class:`~overthink.errors.ConfigError` naming the setting, the value and
what is accepted. The limits are far above any real experiment; they exist so that a typo
(``--budgets 99999999999999999999999``, ``samples: 100000000``) fails in a second with one
line instead of overflowing SQLite or hanging in planning.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from overthink.errors import ConfigError
from overthink.experiment.config import ExperimentConfig

__all__ = [
    "MAX_PLANNED_TRIALS",
    "MAX_SAMPLES",
    "MAX_SAMPLES_PER_QUESTION",
    "MAX_TOKENS",
    "check_config",
    "check_plan_size",
    "check_run_dir",
]

MAX_TOKENS = 10_000_000
"""Largest token count accepted anywhere (budgets, caps): above every context window."""
MAX_SAMPLES = 1_000_000
"""Largest ``samples`` (questions per task and knob level)."""
MAX_SAMPLES_PER_QUESTION = 10_000
MAX_PLANNED_TRIALS = 1_000_000
"""Largest plan: 11 days at 1 trial/s, and the plan is held in memory (~1 KB a trial)."""
MAX_CONCURRENCY = 4096
MAX_RETRIES = 100
MAX_TIMEOUT_S = 7 * 24 * 3600.0
_INT64 = 2**63


def _at_most(name: str, value: int, limit: int, what: str = "") -> None:
    if value > limit:
        raise ConfigError(f"{name}: {value} is larger than the maximum {limit:,}{what}")


def check_config(config: ExperimentConfig) -> None:
    """Every numeric setting within its range (budgets parsed too)."""
    for budget in config.parsed_budgets():
        _at_most("budgets", budget.tokens, MAX_TOKENS, " tokens")
    _at_most("max_reasoning_tokens", config.max_reasoning_tokens, MAX_TOKENS)
    _at_most("max_answer_tokens", config.max_answer_tokens, MAX_TOKENS)
    _at_most("min_tokens", config.min_tokens, MAX_TOKENS)
    _at_most("max_waits", config.max_waits, 1000)
    _at_most("samples", config.samples, MAX_SAMPLES, " questions per task and level")
    _at_most("samples_per_question", config.samples_per_question, MAX_SAMPLES_PER_QUESTION)
    if config.concurrency is not None:  # None: the server's slot count
        _at_most("concurrency", config.concurrency, MAX_CONCURRENCY)
    _at_most("max_retries", config.max_retries, MAX_RETRIES)
    if not -_INT64 <= config.seed < _INT64:
        raise ConfigError(f"seed: {config.seed} does not fit in 64 bits")
    if not math.isfinite(config.temperature) or config.temperature > 100:
        raise ConfigError(f"temperature: {config.temperature} (expected a number from 0 to 100)")
    for name in ("connect_timeout_s", "read_timeout_s"):
        value = float(getattr(config, name))
        if not (math.isfinite(value) and 0 < value <= MAX_TIMEOUT_S):
            raise ConfigError(
                f"{name}: {value} (expected seconds, more than 0 and at most {MAX_TIMEOUT_S:g})"
            )


def check_plan_size(config: ExperimentConfig) -> int:
    """The number of trials the config plans, counted without generating any sample.

    Raises ConfigError above :data:`MAX_PLANNED_TRIALS`, so planning never materialises
    an absurd grid.
    """
    from overthink.experiment.plan import task_levels
    from overthink.tasks import get_task

    per_question = len(config.models) * len(config.parsed_budgets()) * config.samples_per_question
    total = 0
    for spec in config.tasks:
        task = get_task(spec.name)
        available = task.available
        questions = config.samples
        if available is not None:
            questions = min(questions, available)
        total += len(task_levels(task, spec.knobs)) * questions * per_question
    if total > MAX_PLANNED_TRIALS:
        raise ConfigError(
            f"the plan has {total:,} trials, more than the maximum {MAX_PLANNED_TRIALS:,} "
            "(lower samples, samples_per_question, budgets or knob levels)"
        )
    return total


def check_run_dir(run_dir: Path) -> None:
    """The run folder is a folder, or can be created, and we may write in it.

    Probes by creating (and removing) an empty temporary folder in the nearest existing
    ancestor, so ``--out /proc/x`` or a read-only mount fails here, before an engine starts,
    and nothing is left behind.
    """
    existing = run_dir
    for path in (run_dir, *run_dir.parents):
        if path.exists():
            existing = path
            break
    if not existing.is_dir():
        raise ConfigError(
            f"run folder {str(run_dir)!r}: {str(existing)!r} exists and is not a folder "
            "(choose another --out)"
        )
    try:
        probe = tempfile.mkdtemp(prefix=".overthink-probe-", dir=existing)
    except OSError as exc:
        where = "" if existing == run_dir else f" inside {str(existing)!r}"
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(
            f"run folder {str(run_dir)!r} cannot be written{where}: {reason} (choose another --out)"
        ) from None
    os.rmdir(probe)
