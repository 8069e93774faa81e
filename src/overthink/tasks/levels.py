"""Knob levels from the command line: ``-T distractors=0,1,3`` and their combinations."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from overthink.errors import ConfigError
from overthink.tasks.base import Task

__all__ = ["level_grid", "parse_knob_args", "repeated_knob", "split_knob_args"]


def repeated_knob(name: str) -> str:
    """The one error for ``-T k=a -T k=b`` (``run`` and ``tasks`` alike)."""
    return f"-T: knob {name!r} given twice; list its levels once, comma-separated"


def split_knob_args(args: Sequence[str]) -> list[tuple[str, list[str]]]:
    """The one ``-T`` parser: ``name=v1,v2`` arguments as ``(name, [v1, v2])``, stripped.

    Used by ``run`` (many tasks) and ``tasks`` (one task) alike, so both reject the same
    input with the same line: a missing ``=`` or name, an empty level (``a=1,,2``, ``a=``)
    and a knob given twice (``-T k=a -T k=b``, which would otherwise silently keep one).
    Whether a knob exists and accepts its levels is the task's question, asked after.
    """
    parsed: list[tuple[str, list[str]]] = []
    for arg in args:
        name, sep, values = arg.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"-T {arg!r}: expected knob=value[,value...]")
        if any(name == seen for seen, _ in parsed):
            raise ConfigError(repeated_knob(name))
        parts = [v.strip() for v in values.split(",")]
        if not all(parts):
            raise ConfigError(f"-T {arg!r}: empty level for knob {name!r}")
        parsed.append((name, parts))
    return parsed


def parse_knob_args(task: Task, args: Sequence[str]) -> dict[str, tuple[Any, ...]]:
    """Parse ``name=v1,v2`` arguments into validated levels per knob of ``task``.

    Raises ConfigError on anything :func:`split_knob_args` rejects, an unknown knob or a
    level the knob does not accept.
    """
    return {
        name: tuple(dict.fromkeys(task.knob(name).parse(p) for p in parts))
        for name, parts in split_knob_args(args)
    }


def level_grid(
    task: Task, chosen: Mapping[str, Sequence[Any]], *, first_default_only: bool = False
) -> list[dict[str, Any]]:
    """Every combination of levels: the chosen ones, else each knob's defaults.

    With ``first_default_only`` an unchosen knob contributes only its first default level
    (used by ``tasks show`` to keep the output short).
    """
    axes: list[tuple[str, Sequence[Any]]] = []
    for knob in task.knobs:
        if knob.name in chosen:
            axes.append((knob.name, chosen[knob.name]))
        else:
            axes.append((knob.name, knob.default[:1] if first_default_only else knob.default))
    names = [name for name, _ in axes]
    return [
        dict(zip(names, combo, strict=True)) for combo in itertools.product(*(v for _, v in axes))
    ]
