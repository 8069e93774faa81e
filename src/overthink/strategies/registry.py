"""Strategy registry: one record per strategy (name, chooser, verifier need, estimator).

A strategy is a pure chooser over one question's N samples plus the facts the rest of
the tool needs about it: whether it ranks samples by verifier scores (then it is skipped
without a verifier, and charged the judge's tokens) and which pool estimator of the
analysis values it at every k ≤ N. The built-in strategies register themselves in
:mod:`overthink.strategies.vote` (listed by :mod:`overthink.strategies.builtin`);
installed packages add theirs through the ``overthink.strategies`` entry-point group.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from overthink.core import Record
from overthink.errors import ConfigError
from overthink.plugins import load_group

if TYPE_CHECKING:
    from overthink.strategies.vote import Choice

__all__ = [
    "Chooser",
    "Strategy",
    "get_strategy",
    "register_strategy",
    "strategies",
    "strategy_names",
]

Chooser = Callable[[Sequence[Record]], "Choice"]
"""A group's records (in sample order) → the chosen one and why."""


@dataclass(frozen=True)
class Strategy:
    """Everything the tool knows about one strategy."""

    name: str
    """Lower-case identifier; strategy records are labelled ``<name>@<N>``."""
    chooser: Chooser
    needs_verifier: bool = False
    """It ranks samples by ``verifier_score``: skipped when no sample has one, and charged
    the model-based verifier's tokens on its records."""
    pool_estimator: str | None = None
    """The analysis pool estimator valuing this strategy at every k (``maj@k``), if any."""
    description: str = ""

    def __post_init__(self) -> None:
        # Plain str even when given an enum member: records and JSON stay byte-identical.
        object.__setattr__(self, "name", str(self.name))


_STRATEGIES: dict[str, Strategy] = {}
_NAME = re.compile(r"[a-z_]+")


def register_strategy(strategy: Strategy) -> Strategy:
    """Make ``strategy`` selectable by its name (``--strategy``, configs, ``verify``)."""
    if not _NAME.fullmatch(strategy.name):
        # Records are labelled "<name>@<N>" and parsed back by that shape.
        raise ValueError(f"strategy name {strategy.name!r}: use lower-case letters and _")
    seen = _STRATEGIES.get(strategy.name)
    if seen is not None and seen != strategy:
        raise ValueError(f"strategy {strategy.name!r} registered twice")
    _STRATEGIES[strategy.name] = strategy
    return strategy


def strategies() -> list[Strategy]:
    """Every strategy, in the order they are applied and reported (built-ins first)."""
    _load()
    return list(_STRATEGIES.values())


def strategy_names() -> tuple[str, ...]:
    """Every strategy name, in application order."""
    return tuple(s.name for s in strategies())


def get_strategy(name: str) -> Strategy:
    """The strategy ``name`` (ConfigError listing the accepted names otherwise)."""
    _load()
    found = _STRATEGIES.get(name)
    if found is None:
        accepted = ", ".join(strategy_names())
        raise ConfigError(f"unknown strategy {name!r} (accepted: {accepted})")
    return found


def _load() -> None:
    import overthink.strategies.builtin  # noqa: F401 - registers the built-ins

    load_group("overthink.strategies", _accept_plugin)


def _accept_plugin(_ep: object, loaded: object) -> None:
    # A module registers on import; a Strategy record named directly is registered here.
    if isinstance(loaded, Strategy):
        register_strategy(loaded)
