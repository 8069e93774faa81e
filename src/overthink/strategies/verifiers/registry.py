"""Verifier registry: ``@register_verifier`` a Verifier subclass, build them by name.

The built-in verifiers register themselves in their own modules (imported by
:mod:`overthink.strategies.verifiers.builtin`); installed packages add theirs through the
``overthink.verifiers`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Sequence

from overthink.engines.base import Engine
from overthink.plugins import load_group
from overthink.strategies.base import parse_names
from overthink.strategies.verifiers.base import Verifier, VerifierContext

__all__ = [
    "make_verifiers",
    "parse_verifiers",
    "register_verifier",
    "verifier_class",
    "verifier_names",
]

_VERIFIERS: dict[str, type[Verifier]] = {}


def register_verifier(cls: type[Verifier]) -> type[Verifier]:
    """Class decorator: make a verifier selectable by its ``name`` (``--verifier``)."""
    seen = _VERIFIERS.get(cls.name)
    if seen is not None and seen is not cls:
        raise ValueError(f"verifier {cls.name!r} registered twice")
    _VERIFIERS[cls.name] = cls
    return cls


def verifier_names() -> tuple[str, ...]:
    """Every verifier name, built-ins first in the order they run."""
    _load()
    return tuple(_VERIFIERS)


def verifier_class(name: str) -> type[Verifier]:
    """The class registered as ``name`` (KeyError if none: validate with parse_verifiers)."""
    _load()
    return _VERIFIERS[name]


def parse_verifiers(value: str | Sequence[str] | None) -> list[str]:
    """Validated verifier names from ``"rubric,judge"`` or a list (ConfigError if unknown)."""
    return parse_names(value, verifier_names(), "verifier")


def make_verifiers(
    names: Sequence[str], *, judge_engine: Engine | None = None, judge_max_tokens: int = 24
) -> list[Verifier]:
    """Build the named verifiers; model-based ones (``judge``) need ``judge_engine``."""
    context = VerifierContext(judge_engine=judge_engine, judge_max_tokens=judge_max_tokens)
    return [verifier_class(name).create(context) for name in parse_verifiers(list(names))]


def _accept_plugin(_ep: object, loaded: object) -> None:
    # A module registers on import; a Verifier class named directly is registered here.
    if isinstance(loaded, type) and issubclass(loaded, Verifier):
        register_verifier(loaded)


def _load() -> None:
    import overthink.strategies.verifiers.builtin  # noqa: F401 - registers the built-ins

    load_group("overthink.verifiers", _accept_plugin)
