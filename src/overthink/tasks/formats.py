"""Answer-format instructions appended to every generated prompt.

Small models copy a literal placeholder such as ``<answer>N</answer>`` verbatim, so word
and letter instructions show the format with a worked example whose value is not a
possible answer (or, for letters, is drawn independently of the correct option).

Numbers are different: measured on SmolLM2-135M over 16 misleading_math questions
(distractors=1, forced cap 64), a worked example ("if the answer were 7 ... <answer>7
</answer>") was copied in 16 of 16 answers, "a number inside answer tags" gave 0/16
correct, and a plain "Answer with a single number." gave 5/16. Numeric answers are
extracted from free text anyway (tags still win when a model uses them).
"""

from __future__ import annotations

import random

from overthink.tasks.extract import LETTERS

__all__ = ["choice_block", "choice_instruction", "number_instruction", "word_instruction"]


def number_instruction(what: str = "a single number") -> str:
    """Ask for ``what`` plainly (no example to copy: see the module docstring)."""
    return f"Answer with {what}."


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
