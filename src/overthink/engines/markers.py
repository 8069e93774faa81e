"""Thinking-segment markers: which pair of strings opens and closes a model's reasoning.

Forcing, the ``none`` prefill and splitting reasoning from answers all need the pair the
model was trained with. We read it from the chat template when the template names one of
the known pairs, take a pair from the config for models whose template has none, and
otherwise fall back to ``<think>``/``</think>`` (recorded as ``default`` so a reader knows
the model never saw those markers in training).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_MARKERS",
    "KNOWN_MARKERS",
    "ThinkMarkers",
    "markers_in_template",
    "opens_thinking",
    "split_think",
]

MarkerSource = Literal["config", "chat_template", "default"]


@dataclass(frozen=True)
class ThinkMarkers:
    """An open/close pair and where it came from."""

    open: str
    close: str
    source: MarkerSource = "default"

    @property
    def from_model(self) -> bool:
        """True when the model is known to think in these markers (template or config)."""
        return self.source != "default"


DEFAULT_MARKERS = ThinkMarkers("<think>", "</think>", "default")

# Order matters: more specific pairs first, since "<think>" is a substring of some of them.
KNOWN_MARKERS: tuple[tuple[str, str], ...] = (
    ("<seed:think>", "</seed:think>"),  # ByteDance Seed-OSS
    ("<|START_THINKING|>", "<|END_THINKING|>"),  # Cohere Command A Reasoning
    ("<|begin_of_thought|>", "<|end_of_thought|>"),  # Bespoke/OpenThoughts-style
    ("◁think▷", "◁/think▷"),  # Kimi
    ("[THINK]", "[/THINK]"),  # Magistral
    ("<thinking>", "</thinking>"),
    ("<think>", "</think>"),  # Qwen3, DeepSeek-R1, SmolLM3, QwQ, ...
)


def markers_in_template(template: str | None) -> ThinkMarkers | None:
    """The first known pair whose both markers appear in a chat template (or rendered prompt)."""
    if not template:
        return None
    for open_tag, close_tag in KNOWN_MARKERS:
        if open_tag in template and close_tag in template:
            return ThinkMarkers(open_tag, close_tag, "chat_template")
    return None


def opens_thinking(prompt: str, open_tag: str) -> bool:
    """True when a rendered prompt already ends inside an opened thinking segment.

    Some templates (DeepSeek-R1 and its distills) end the generation prompt with
    ``<think>\\n``; opening a second segment would confuse the model.
    """
    return prompt.rstrip().endswith(open_tag)


def split_think(
    text: str, open_tag: str = "<think>", close_tag: str = "</think>"
) -> tuple[str, str]:
    """Split ``text`` into (reasoning, answer) on a thinking segment.

    An unclosed segment (generation cut inside thinking) is all reasoning; text with no
    segment is all answer. Some templates open the segment in the prompt, so a lone close
    tag also splits.
    """
    start = text.find(open_tag)
    end = text.find(close_tag)
    if start == -1 and end == -1:
        return "", text.strip()
    if start != -1 and (end == -1 or end < start):
        return text[start + len(open_tag) :].strip(), ""
    begin = 0 if start == -1 else start + len(open_tag)
    return text[begin:end].strip(), text[end + len(close_tag) :].strip()
