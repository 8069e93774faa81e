"""System prompts of the budget modes, and the ``prompt`` mode's budget statements.

In ``prompt`` mode the budget is only *stated* to the model, as Gema et al. did for open
models. The statement comes in variants, because how a budget is phrased changes how much
of it a model spends: ``neutral`` states it, ``urge-use`` asks the model to spend all of
it, ``urge-brevity`` tells it that it may stop early. A custom template (with a
``{budget}`` placeholder) replaces the variant. The exact text sent is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from overthink.errors import ConfigError

__all__ = [
    "ANSWER_DIRECTLY",
    "PROMPT_VARIANTS",
    "THINK_FIRST",
    "ReasoningOptions",
]

ANSWER_DIRECTLY = "Answer directly with the final answer only. Do not explain."
THINK_FIRST = "Think step by step before you answer."

PROMPT_VARIANTS: dict[str, str] = {
    "neutral": (
        "You have a thinking budget of about {budget} tokens. Think step by step before you answer."
    ),
    "urge-use": (
        "You have a thinking budget of about {budget} tokens. Use all of it: keep "
        "reasoning carefully, checking your work, until you have spent about {budget} "
        "tokens, then answer."
    ),
    "urge-brevity": (
        "You have a thinking budget of about {budget} tokens. You do not need to use all "
        "of it: think only as long as you need, stop as soon as you are sure, then answer."
    ),
}


@dataclass(frozen=True)
class ReasoningOptions:
    """Run-wide settings of the budget layer that are not part of a single Budget."""

    prompt_variant: str = "neutral"
    """Which ``PROMPT_VARIANTS`` statement ``prompt`` budgets use."""
    prompt_template: str | None = None
    """A custom statement with a ``{budget}`` placeholder; overrides ``prompt_variant``."""

    def __post_init__(self) -> None:
        if self.prompt_template is None:
            if self.prompt_variant not in PROMPT_VARIANTS:
                known = ", ".join(PROMPT_VARIANTS)
                raise ConfigError(
                    f"prompt_variant {self.prompt_variant!r} is unknown (accepted: {known})"
                )
            return
        if "{budget}" not in self.prompt_template:
            raise ConfigError("prompt_template must contain the placeholder {budget}")
        try:
            self.prompt_template.format(budget=1)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"prompt_template: only {{budget}} may appear in braces ({exc})"
            ) from None

    @property
    def prompt_label(self) -> str:
        """``custom`` or the variant name, as recorded."""
        return "custom" if self.prompt_template is not None else self.prompt_variant

    def budget_statement(self, tokens: int) -> str:
        """The system text that states a budget of ``tokens``."""
        template = self.prompt_template or PROMPT_VARIANTS[self.prompt_variant]
        return template.format(budget=tokens)
