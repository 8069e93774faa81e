"""Third-party extensions through entry points: ``overthink.tasks``, ``overthink.engines``,
``overthink.verifiers`` (and ``overthink.strategies``).

A package declares, in its ``pyproject.toml``::

    [project.entry-points."overthink.tasks"]
    shutdown = "my_package.tasks"          # a module whose import registers its tasks

Loading an entry point imports its module, which runs the module's registration
decorators (``@register``, ``@provider``, ``@register_verifier``, ``register_strategy``).
An entry point may also name a Task or Verifier class directly; the group's registry
then registers it (see each registry's ``_load_plugins``).

A plugin that fails to load is reported as ONE line on stderr naming the plugin, its
group and the error, and is skipped: the other plugins still load, and the failure is
kept in :func:`plugin_errors` for tests and ``--help`` texts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points

__all__ = ["GROUPS", "load_group", "plugin_errors", "reset_plugins"]

GROUPS = ("overthink.tasks", "overthink.engines", "overthink.verifiers", "overthink.strategies")
"""The entry-point groups overthink reads."""

_LOADED: set[str] = set()
_ERRORS: list[str] = []


def load_group(group: str, accept: Callable[[EntryPoint, object], None] | None = None) -> None:
    """Load every entry point of ``group`` once per process.

    ``accept`` is called with each loaded object (to register a class named directly);
    an exception from it counts as the plugin failing. Never raises for a plugin's fault.
    """
    if group in _LOADED:
        return
    # Marked first: a plugin that itself asks for the registry must not recurse.
    _LOADED.add(group)
    for ep in entry_points(group=group):
        try:
            loaded = ep.load()
            if accept is not None:
                accept(ep, loaded)
        except Exception as exc:  # any fault of one plugin must not stop the others
            line = (
                f"overthink: plugin {ep.name!r} ({ep.value}) in {group} failed to load: "
                f"{type(exc).__name__}: {_first_line(exc)}"
            )
            _ERRORS.append(line)
            print(line, file=sys.stderr)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


def plugin_errors() -> list[str]:
    """The one-line reports of every plugin that failed to load so far."""
    return list(_ERRORS)


def reset_plugins() -> None:
    """Forget which groups were loaded (tests that install a plugin load them again)."""
    _LOADED.clear()
    _ERRORS.clear()
