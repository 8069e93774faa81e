"""Plan: expand a config into the grid of Trials (tasks × levels × models × budgets × samples)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from overthink.core import Budget, Sample, Trial
from overthink.errors import ConfigError
from overthink.experiment.config import ExperimentConfig
from overthink.tasks import Task, get_task
from overthink.tasks.levels import level_grid

__all__ = ["Plan", "make_plan", "sample_seed", "task_levels"]


@dataclass
class Plan:
    """The trials of one experiment plus the task objects that score them."""

    trials: list[Trial]
    tasks: dict[str, Task]
    budgets: list[Budget]
    levels: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """Things the user should know before it runs (e.g. a file task only partly used)."""

    def task_for(self, trial: Trial) -> Task:
        """The task that generated a trial's sample (it extracts and scores the answer)."""
        return self.tasks[trial.sample.task]


def sample_seed(seed: int, index: int) -> int:
    """Sampling seed of sample ``index``: the run's seed for the first, then derived.

    ``seed + index`` would make runs with neighbouring seeds share draws (``--seed 0`` and
    ``--seed 1`` with ``-n 4`` would repeat 3 of every 4 samples); a hash keeps every
    (seed, index) pair apart while the default ``-n 1`` keeps the seed the user gave.
    """
    if index == 0:
        return seed
    digest = hashlib.sha256(f"overthink-sample-seed:{seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def _answer_tokens_needed(sample: Sample) -> int:
    """A task's estimate of its answer length (``meta["answer_tokens_needed"]``), else 0."""
    value = sample.meta.get("answer_tokens_needed", 0)
    return value if isinstance(value, int) else 0


def task_levels(task: Task, knobs: dict[str, list[object]]) -> list[dict[str, object]]:
    """Every combination of the chosen knob levels (the task's defaults for the others)."""
    chosen: dict[str, tuple[object, ...]] = {}
    for name, values in knobs.items():
        knob = task.knob(name)
        if not values:
            raise ConfigError(f"task {task.name!r}: knob {name!r} has no levels")
        chosen[name] = tuple(dict.fromkeys(knob.parse(str(v)) for v in values))
    return level_grid(task, chosen)


def _sample_notes(
    name: str, combo: dict[str, object], samples: list[Sample], config: ExperimentConfig
) -> list[str]:
    """What the run should say about one knob setting's samples before it starts."""
    notes = []
    if len(samples) < config.samples:
        # A finite bank (e.g. risk's 6 questions per subset) gives what it holds.
        setting = ", ".join(f"{k}={v}" for k, v in combo.items()) or "its data"
        notes.append(
            f"{name} ({setting}): only {len(samples)} questions exist, "
            f"fewer than --samples {config.samples}; using all {len(samples)}"
        )
    if any(s.meta.get("polarity") == "unknown" for s in samples):
        notes.append(
            f"{name}: which answer is safe is unknown for this file, so its "
            "matching-behaviour rate is reported without a safety claim (set "
            "-T polarity=matching_is_safe or matching_is_unsafe if you know it)"
        )
    needed = max((_answer_tokens_needed(s) for s in samples), default=0)
    if needed > config.max_answer_tokens:
        setting = ", ".join(f"{k}={v}" for k, v in combo.items())
        notes.append(
            f"{name} ({setting}): answers need about {needed} tokens but "
            f"--max-answer-tokens is {config.max_answer_tokens}; they will be cut "
            f"(try --max-answer-tokens {needed})"
        )
    return notes


def make_plan(config: ExperimentConfig) -> Plan:
    """Expand the config into trials; raises ConfigError for anything invalid."""
    budgets = config.parsed_budgets()
    tasks: dict[str, Task] = {}
    levels: dict[str, list[dict[str, object]]] = {}
    trials: list[Trial] = []
    notes: list[str] = []
    settings = config.generation_settings()
    for spec in config.tasks:
        task = get_task(spec.name)
        grid = task_levels(task, spec.knobs)
        levels[spec.name] = grid
        available = task.available
        if available is not None and available > config.samples:
            notes.append(
                f"{spec.name}: using the first {config.samples} of {available} samples in the "
                f"file (--samples {available} runs them all)"
            )
        for combo in grid:
            samples = task.samples(config.samples, config.seed, **combo)
            if not samples:
                raise ConfigError(f"task {spec.name!r} produced no samples for {combo}")
            notes.extend(_sample_notes(spec.name, combo, samples, config))
            for sample in samples:
                tasks[sample.task] = task
                for model in config.models:
                    # Largest budget first: its prompt prefix is the longest, and a slot
                    # keeps one cached sequence that the smaller ones can reuse.
                    for budget in sorted(budgets, key=lambda b: -b.tokens):
                        for index in range(config.samples_per_question):
                            trials.append(
                                Trial(
                                    sample=sample,
                                    model=model,
                                    budget=budget,
                                    sample_index=index,
                                    seed=sample_seed(config.seed, index),
                                    temperature=config.temperature,
                                    max_answer_tokens=config.max_answer_tokens,
                                    max_reasoning_tokens=config.max_reasoning_tokens,
                                    deterministic=config.deterministic,
                                    settings=settings,
                                )
                            )
    ids = [t.trial_id for t in trials]
    if len(set(ids)) != len(ids):
        raise ConfigError(
            "the plan contains duplicate trials (a task listed twice with the same knobs, "
            "or a knob level repeated?)"
        )
    return Plan(trials=trials, tasks=tasks, budgets=budgets, levels=levels, notes=notes)
