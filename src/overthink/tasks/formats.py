"""Answer-format instructions appended to every generated prompt.

Small models copy a literal placeholder such as ``<answer>N</answer>`` verbatim, so each
instruction shows the format with a worked example whose value is not a possible answer
(or, for letters, is drawn independently of the correct option).
"""

from __future__ import annotations

import random

from overthink.tasks.extract import LETTERS

__all__ = ["choice_block", "choice_instruction", "number_instruction", "word_instruction"]


def number_instruction(example: str = "7", what: str = "a number") -> str:
    """Ask for ``what`` inside answer tags, showing ``example`` as the worked example."""
    return (
        f"Give your final answer as {what} inside answer tags. "
        f"For example, if the answer were {example} you would end with "
        f"<answer>{example}</answer>."
    )


def word_instruction(example: str) -> str:
    """Ask for a single word or short name inside answer tags."""
    return (
        "Give your final answer as a single word or name inside answer tags. "
        f"For example, if the answer were {example} you would end with "
        f"<answer>{example}</answer>."
    )


def choice_block(options: list[str]) -> str:
    """Options as ``(A) text`` lines."""
    if len(options) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} options, got {len(options)}")
    return "\n".join(f"({LETTERS[i]}) {text}" for i, text in enumerate(options))


def choice_instruction(n_options: int, rng: random.Random) -> str:
    """Ask for one option letter in answer tags; the example letter is drawn from ``rng``.

    Drawing the example letter at random (never from the target) keeps a model that copies
    the example from looking better or worse than chance.
    """
    example = LETTERS[rng.randrange(n_options)]
    last = LETTERS[n_options - 1]
    return (
        f"Answer with the letter of one option (A to {last}) inside answer tags. "
        f"For example, if you chose option {example} you would end with "
        f"<answer>{example}</answer>."
    )
