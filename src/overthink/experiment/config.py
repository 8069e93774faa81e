"""Experiment configuration: a pydantic model that a YAML file and the CLI flags both fill.

Unknown keys are errors that name the key; every field is documented below and in the
README's config example.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from overthink.core import Budget, BudgetMode
from overthink.errors import ConfigError
from overthink.strategies import default_strategies, parse_strategies, parse_verifiers

__all__ = [
    "DEFAULT_BUDGETS",
    "SAMPLING_TEMPERATURE",
    "ExperimentConfig",
    "TaskSpec",
    "load_config",
]

DEFAULT_BUDGETS = ("0", "32", "64", "128", "256")
SAMPLING_TEMPERATURE = 0.7
"""Temperature used when N > 1 samples per question are drawn and none was chosen."""
# Settings applied after generation: they never change a trial, so they are not part of
# the run's identity (a run can be re-verified under the same name).
_POSTPROCESS_FIELDS = {"verifiers", "strategies", "judge_model", "judge_max_tokens"}
# Where trials run never changes what they are: a run started locally resumes on Ray.
_EXECUTION_FIELDS = {"executor", "address", "workers", "batch_poll_s"}
# How requests travel (timeouts, slot placement): never part of a run's identity.
_TRANSPORT = {"connect_timeout_s", "read_timeout_s", "pin_slots"}
_IDENTITY_IF_CHANGED = (
    "prompt_variant",
    "prompt_template",
    "native_style",
    "effort_edges",
    "effort_levels",
    "think_open",
    "think_close",
)


class TaskSpec(BaseModel):
    """One task and the knob levels to sweep (knobs not named use the task's defaults)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    """Registered task name, or ``jsonl:<path>`` / ``risk:<path>`` for a file."""
    knobs: dict[str, list[Any]] = Field(default_factory=dict)
    """Levels per knob, e.g. ``{distractors: [0, 1, 3, 5]}``."""


class ExperimentConfig(BaseModel):
    """Everything that defines an experiment. The YAML file mirrors the CLI flags."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    """Run name; also the run folder's name under ``runs/`` unless ``out`` is set."""
    tasks: list[TaskSpec] = Field(default_factory=lambda: [TaskSpec(name="misleading_math")])
    """Tasks to run (a bare string is a task name with default knob levels)."""
    models: list[str] = Field(default_factory=lambda: ["embedded"])
    """Model names, ``<provider>/<model>`` or a bare provider name (``embedded``); the
    accepted providers are the registry's (``overthink.engines.registry.providers()``,
    listed by ``overthink run --help`` and in unknown-model errors)."""
    base_url: str | list[str] | None = None
    """OpenAI-compatible server for ``openai-api/`` models, e.g. ``http://host:8000/v1``; a
    list is a fleet of endpoints serving the same model (calls spread, groups kept on one)."""
    budgets: list[str] = Field(default_factory=lambda: list(DEFAULT_BUDGETS))
    """Budgets: integers (in ``budget_mode``), ``forced:128``, ``natural``, ``none``."""
    budget_mode: BudgetMode = BudgetMode.FORCED
    """Mode used for bare integer budgets."""
    min_tokens: int = Field(0, ge=0)
    """Forced mode: suppress an end of thinking before this many tokens..."""
    max_waits: int = Field(0, ge=0)
    """...by appending ``wait_word``, at most this many times."""
    wait_word: str = "Wait"
    samples: int = Field(12, ge=1)
    """Questions per task and knob level."""
    samples_per_question: int = Field(1, ge=1)
    """Independent samples per (question, budget), with distinct seeds. With N > 1 and no
    ``temperature`` given, ``temperature`` becomes :data:`SAMPLING_TEMPERATURE`: greedy
    samples would all be identical and every vote unanimous."""
    seed: int = 0
    """Seed for task generation and sampling: sample 0 uses it, sample i > 0 a seed hashed
    from (seed, i) (``experiment.plan.sample_seed``)."""
    temperature: float = Field(0.0, ge=0.0)
    max_answer_tokens: int = Field(16, ge=1)
    """Cap on the forced/final answer."""
    max_reasoning_tokens: int = Field(1024, ge=1)
    """Safety cap on natural thinking (hitting it is recorded as truncation)."""
    concurrency: int | None = Field(None, ge=1)
    """Requests in flight per model (and parallel slots of the embedded server). Unset:
    the server's own slot count (``/props`` ``total_slots``), the embedded server's
    measured best (``engines.embedded.SLOT_TABLE``), else 4."""
    deterministic: bool = False
    """One request in flight, no prompt-cache reuse: greedy outputs repeat exactly."""
    max_retries: int = Field(4, ge=0)
    """Retries per request after the first attempt (429, 5xx, timeouts, bad bodies)."""
    connect_timeout_s: float = Field(10.0, gt=0)
    """Seconds to open a connection to a model server."""
    read_timeout_s: float = Field(600.0, gt=0)
    """Seconds to wait for a server's next bytes. Responses are not streamed, so this must
    cover the longest single call (long reasoning); a hung server costs at most
    ``(max_retries + 1) × read_timeout_s`` per request."""
    out: str | None = None
    """Run folder (default ``runs/<name>``)."""
    prefix_sharing: bool = True
    """Forced sweeps: one thinking trace at the largest cap, cut at each smaller cap."""
    report: bool = True
    """Write report.html at the end of the run."""
    verifiers: list[str] = Field(default_factory=list)
    """Verifiers scoring every sample after generation, by registered name (``rubric``,
    ``judge``, ``self_consistency`` and any plugin's; see ``verifier_names()``)."""
    strategies: list[str] | None = None
    """Strategies over each question's N samples, by registered name (``strategy_names()``;
    default: every one that applies — those that need a verifier only with one)."""
    judge_model: str = "embedded"
    """Model of the judge verifier (any name ``models`` accepts)."""
    judge_max_tokens: int = Field(default=24, ge=1)
    """Judge verifier: output allowance for its verdict. Raise it for a reasoning model
    as judge, which spends tokens thinking before the score."""
    prompt_variant: str = "neutral"
    """Prompt budgets: how the budget is stated — neutral, urge-use or urge-brevity."""
    prompt_template: str | None = None
    """Prompt budgets: a custom statement with a ``{budget}`` placeholder (overrides
    ``prompt_variant``)."""
    native_style: str | None = None
    """openai-api/ models: how native budgets are sent — gemini (default: Gemini's
    ``thinking_budget`` in ``extra_body``), thinking_budget, vllm or effort."""
    effort_edges: list[int] = Field(default_factory=lambda: [2048, 8192])
    """Native budgets sent as ``reasoning_effort``: a budget below ``effort_edges[i]`` gets
    ``effort_levels[i]``, larger ones the last level."""
    effort_levels: list[str] = Field(default_factory=lambda: ["low", "medium", "high"])
    think_open: str | None = None
    """Thinking markers on raw-completion engines (set both, or neither: then they come
    from the chat template, else ``<think>``/``</think>``)."""
    think_close: str | None = None
    pin_slots: str = "auto"
    """Cache-aware placement on llama.cpp servers: name each completion's slot
    (``id_slot``) — ``auto`` where the engine knows the slots (the embedded server, a
    server whose ``/props`` gives ``total_slots``) unless another client is seen using the
    server (then requests go unnamed), ``on`` (pin even so), ``off``. Not part of the
    run's identity."""
    executor: str = "local"
    """Where trials run: ``local`` (asyncio in this process), ``ray`` (actors on a Ray
    cluster) or ``batch`` (provider batch APIs). Not part of the run's identity."""
    address: str | None = None
    """``ray``: the cluster to join (``auto``, ``host:port``, ``ray://host:10001``); none
    starts a local Ray on loopback."""
    workers: int | None = Field(None, ge=1)
    """``ray``: engine actors per model (default: one per GPU for vllm/, else 2)."""
    batch_poll_s: float = Field(30.0, gt=0)
    """``batch``: seconds between polls of a submitted batch."""

    @field_validator("base_url", mode="before")
    @classmethod
    def _one_url(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            urls = [str(v).strip() for v in value if str(v).strip()]
            if not urls:
                return None
            return urls[0] if len(urls) == 1 else urls
        return value

    @field_validator("executor")
    @classmethod
    def _known_executor(cls, value: str) -> str:
        from overthink.experiment.execution import EXECUTORS

        if value not in EXECUTORS:
            raise ValueError(f"{value!r} is not one of {', '.join(EXECUTORS)}")
        return value

    def base_urls(self) -> list[str]:
        """Every endpoint URL given (one or several)."""
        if self.base_url is None:
            return []
        return [self.base_url] if isinstance(self.base_url, str) else list(self.base_url)

    @field_validator("tasks", mode="before")
    @classmethod
    def _bare_task_names(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("models", mode="before")
    @classmethod
    def _one_model(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("models")
    @classmethod
    def _models_once(cls, value: list[str]) -> list[str]:
        repeated = sorted({m for m in value if value.count(m) > 1})
        if repeated:
            raise ValueError(f"{', '.join(map(repr, repeated))} listed more than once")
        if not value:
            raise ValueError("the list is empty (e.g. --model embedded)")
        return value

    @field_validator("budgets", mode="before")
    @classmethod
    def _budget_strings(cls, value: Any) -> Any:
        if isinstance(value, str | int):
            value = str(value).split(",")
        if isinstance(value, list):
            return [str(v).strip() for v in value]
        return value

    @field_validator("verifiers", mode="before")
    @classmethod
    def _verifier_names(cls, value: Any) -> Any:
        return parse_verifiers(value) if isinstance(value, str | list | tuple) else value

    @field_validator("strategies", mode="before")
    @classmethod
    def _strategy_names(cls, value: Any) -> Any:
        return parse_strategies(value) if isinstance(value, str | list | tuple) else value

    @field_validator("prompt_variant")
    @classmethod
    def _known_variant(cls, value: str) -> str:
        from overthink.reasoning.prompts import PROMPT_VARIANTS

        if value not in PROMPT_VARIANTS:
            raise ValueError(f"{value!r} is not one of {', '.join(PROMPT_VARIANTS)}")
        return value

    @field_validator("native_style")
    @classmethod
    def _known_native_style(cls, value: str | None) -> str | None:
        from overthink.engines.openai_compat import NATIVE_STYLES

        if value is not None and value not in NATIVE_STYLES:
            raise ValueError(f"{value!r} is not one of {', '.join(NATIVE_STYLES)}")
        return value

    @field_validator("pin_slots")
    @classmethod
    def _known_pin_slots(cls, value: str) -> str:
        from overthink.engines.pinning import PIN_SLOTS_MODES

        if value not in PIN_SLOTS_MODES:
            raise ValueError(f"{value!r} is not one of {', '.join(PIN_SLOTS_MODES)}")
        return value

    @model_validator(mode="after")
    def _budget_control(self) -> ExperimentConfig:
        from overthink.engines.openai_compat import EffortBuckets
        from overthink.reasoning.prompts import ReasoningOptions

        ReasoningOptions(self.prompt_variant, self.prompt_template)
        EffortBuckets(tuple(self.effort_edges), tuple(self.effort_levels))
        if (self.think_open is None) != (self.think_close is None):
            raise ValueError("think_open and think_close must be set together")
        return self

    @model_validator(mode="after")
    def _waits_need_a_floor(self) -> ExperimentConfig:
        # Either one alone does nothing (no floor to enforce, or no waits allowed) yet
        # would turn prefix sharing off: refuse it rather than run a silent no-op.
        if (self.min_tokens > 0) != (self.max_waits > 0):
            given, missing = (
                ("min_tokens", "max_waits") if self.min_tokens > 0 else ("max_waits", "min_tokens")
            )
            raise ValueError(
                f"{given} without {missing} does nothing: forced thinking that ends before "
                f"min_tokens gets '{self.wait_word}' appended, at most max_waits times; set "
                "both (e.g. --min-tokens 64 --max-waits 2) or neither"
            )
        return self

    @model_validator(mode="after")
    def _sampling_temperature(self) -> ExperimentConfig:
        if self.samples_per_question > 1 and "temperature" not in self.model_fields_set:
            self.temperature = SAMPLING_TEMPERATURE
        return self

    def resolved_strategies(self) -> list[str]:
        """The strategies to apply (none with one sample per question)."""
        if self.samples_per_question < 2:
            return []
        if self.strategies is not None:
            return list(self.strategies)
        return default_strategies(bool(self.verifiers))

    def sampling_warnings(self) -> list[str]:
        """Settings that make parallel sampling pointless or partly inert."""
        out = []
        n = self.samples_per_question
        if n > 1 and self.temperature == 0.0:
            out.append(
                f"{n} samples per question at temperature 0: greedy samples are identical, "
                "so every vote is unanimous (set --temperature, e.g. 0.7)"
            )
        if n < 2 and self.strategies:
            out.append("strategies need at least 2 samples per question (-n): none applied")
        anthropic = [m for m in self.models if m.startswith("anthropic/")]
        if anthropic and ("temperature" in self.model_fields_set or n > 1):
            out.append(
                f"{', '.join(anthropic)}: the Messages API (anthropic SDK) takes no temperature, "
                f"so temperature {self.temperature:g} is not sent (records list it under "
                "not_sent); samples differ only by the API's own sampling"
            )
        if self.min_tokens > 0:
            try:
                forced = any(b.mode is BudgetMode.FORCED for b in self.parsed_budgets())
            except ConfigError:
                forced = True  # the budget error itself is reported when the plan is made
            if not forced:
                out.append(
                    "min_tokens / max_waits apply to forced budgets only, and none of the "
                    "budgets is forced: they change nothing"
                )
        return out

    def parsed_budgets(self) -> list[Budget]:
        """The budgets as Budget objects (forced extras applied), duplicates removed."""
        if not self.budgets:
            raise ConfigError("budgets: the list is empty (e.g. --budgets 0,64,128,256)")
        out: list[Budget] = []
        for text in self.budgets:
            try:
                budget = Budget.parse(text, default_mode=self.budget_mode)
            except ValueError as exc:
                hint = (
                    "" if "accepted" in str(exc) else " (accepted: integers, natural, none, MODE:N)"
                )
                raise ConfigError(f"budgets: {exc}{hint}") from None
            if budget.mode is BudgetMode.FORCED:
                budget = budget.model_copy(
                    update={
                        "min_tokens": self.min_tokens,
                        "max_waits": self.max_waits,
                        "wait_word": self.wait_word,
                    }
                )
            if budget not in out:
                out.append(budget)
        return out

    def generation_settings(self) -> str:
        """Budget-control settings changed from their defaults, as canonical JSON ("" when
        none is): they change what a trial generates, so they join its identity."""
        from overthink.core import canonical_json

        changed = {
            key: getattr(self, key)
            for key in _IDENTITY_IF_CHANGED
            if getattr(self, key)
            != ExperimentConfig.model_fields[key].get_default(call_default_factory=True)
        }
        return canonical_json(changed) if changed else ""

    def run_name(self) -> str:
        """The run's name: ``name`` or one derived from the tasks and a config hash."""
        if self.name:
            return self.name
        import hashlib

        from overthink.core import canonical_json

        ident = self.model_dump(
            mode="json",
            exclude={
                "out",
                "report",
                "name",
                "concurrency",
                *_POSTPROCESS_FIELDS,
                *_TRANSPORT,
                *_EXECUTION_FIELDS,
            },
        )
        # How hard we retry never changes a trial; the historical value keeps the names
        # (and resumes) of runs from before it could be set.
        ident["max_retries"] = 4
        # Budget-control settings join the identity only when changed from their defaults,
        # so run names (and resumes) from before these settings existed stay valid.
        for key in _IDENTITY_IF_CHANGED:
            if ident.get(key) == ExperimentConfig.model_fields[key].get_default(
                call_default_factory=True
            ):
                ident.pop(key, None)
        digest = hashlib.sha256(canonical_json(ident).encode()).hexdigest()[:8]
        stem = "+".join(t.name.replace(":", "_").replace("/", "_") for t in self.tasks)[:40]
        return f"{stem}-{digest}"

    def run_dir(self) -> Path:
        """The run folder."""
        return Path(self.out) if self.out else Path("runs") / self.run_name()


def _format_validation(error: ValidationError, source: str) -> str:
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        # Name the keys accepted where the unknown one sits (a task entry, or the top).
        fields = (
            TaskSpec.model_fields if first["loc"][0] == "tasks" else ExperimentConfig.model_fields
        )
        known = ", ".join(fields)
        return f"{source}: unknown key {where!r} (known keys there: {known})"
    return f"{source}: {where}: {first['msg'].removeprefix('Value error, ')}"


def load_config(
    path: str | Path | None, overrides: dict[str, Any] | None = None
) -> ExperimentConfig:
    """Read a YAML config (if given) and apply CLI overrides, with errors naming the key."""
    data: dict[str, Any] = {}
    source = "command line"
    if path is not None:
        p = Path(path)
        source = str(p)
        if p.is_dir():
            raise ConfigError(f"config file {p} is a folder (expected a YAML file)")
        if not p.is_file():
            raise ConfigError(f"config file {p} does not exist")
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{p}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset "
                f"{exc.start}); save the config as UTF-8"
            ) from None
        except OSError as exc:
            raise ConfigError(f"config file {p} cannot be read: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(
                f"{p}{line}: not valid YAML ({getattr(exc, 'problem', exc)})"
            ) from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: expected a mapping of keys to values at the top level")
        data.update(loaded)
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc, source)) from None
