"""Task registry: ``@register`` a Task subclass, look it up by name.

Besides class names, three other kinds of names resolve here:

* ``prefix:<arg>`` through loaders (``jsonl:<path>`` reads the paper's released task
  format, ``risk:<path>`` the model-written-evals format);
* ``file.py@name``: a task defined in the user's own Python file (like ``inspect eval
  file.py@task``), no fork and no package needed;
* tasks of installed packages, through the ``overthink.tasks`` entry-point group.

Built-in tasks register themselves when :mod:`overthink.tasks.builtin` imports them.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path
from types import ModuleType

from overthink.errors import ConfigError
from overthink.plugins import load_group
from overthink.tasks.base import Task
from overthink.tasks.rubric import Check

__all__ = [
    "Loader",
    "file_task_sources",
    "get_task",
    "known_weight_sets",
    "loader_description",
    "loader_knobs",
    "loader_prefixes",
    "register",
    "register_loader",
    "reload_file_tasks",
    "task_class",
    "task_names",
    "task_rubric",
]

_REGISTRY: dict[str, type[Task]] = {}
# Tasks loaded from ``file.py@name`` (by task name), so that the verifiers and the
# analysis of the same process find their rubric and weights too.
_FILE_TASKS: dict[str, type[Task]] = {}
_FILE_MODULES: dict[Path, ModuleType] = {}
# Task name → ``/absolute/file.py@name``: stored in a run's manifest, so that a later
# process (``overthink verify``) can load the task again for its rubric.
_FILE_SOURCES: dict[str, str] = {}


@dataclass(frozen=True)
class Loader:
    """A ``prefix:<arg>`` task source."""

    prefix: str
    factory: Callable[[str], Task]
    """Builds the task from the text after the prefix."""
    description: str = "a file"
    """What ``<arg>`` names, for ``overthink tasks`` (a phrase: "a JSONL file in ...")."""


_LOADERS: dict[str, Loader] = {}


def register(cls: type[Task]) -> type[Task]:
    """Class decorator: make a task available by its ``name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"task {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def register_loader(
    prefix: str, factory: Callable[[str], Task], description: str = "a file"
) -> None:
    """Make ``prefix:<arg>`` task names resolve through ``factory(arg)``."""
    _LOADERS[prefix] = Loader(prefix, factory, description)


def task_names() -> list[str]:
    """All registered task names, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def loader_prefixes() -> list[str]:
    """All registered loader prefixes (``jsonl``, ``risk``...), sorted."""
    _load_builtins()
    return sorted(_LOADERS)


def loader_description(prefix: str) -> str:
    """What a loader's ``<arg>`` names (for listings)."""
    _load_builtins()
    return _LOADERS[prefix].description


def loader_knobs(name: str) -> tuple[str, ...] | None:
    """Knob names a ``prefix:<arg>`` task declares, without building it (None: not a
    loader name, or a loader that is not a Task class)."""
    _load_builtins()
    prefix, sep, _ = name.partition(":")
    loader = _LOADERS.get(prefix) if sep else None
    factory = loader.factory if loader is not None else None
    if not (isinstance(factory, type) and issubclass(factory, Task)):
        return None
    return tuple(k.name for k in factory.knobs)


def task_class(name: str) -> type[Task] | None:
    """The class of a registered (or file-loaded) task, without instantiating it."""
    _load_builtins()
    return _REGISTRY.get(name) or _FILE_TASKS.get(name)


def task_rubric(name: str) -> tuple[Check, ...]:
    """The rubric a task declares (empty: unknown task, or it declares none)."""
    cls = task_class(name)
    return cls.rubric if cls is not None else ()


def known_weight_sets() -> dict[str, Mapping[str, float]]:
    """Task name → true generating weights, for every task that declares them."""
    _load_builtins()
    classes = {**_FILE_TASKS, **_REGISTRY}
    return {n: c.known_weights for n, c in sorted(classes.items()) if c.known_weights}


def get_task(name: str) -> Task:
    """Instantiate a task by name (``prefix:arg`` for a loader, ``file.py@name`` for a
    user's file), with a one-line ConfigError for anything that does not resolve."""
    _load_builtins()
    if "@" in name and name.partition("@")[0].endswith(".py"):
        return _task_from_file(name)
    prefix, sep, arg = name.partition(":")
    if sep and prefix in _LOADERS:
        if not arg:
            raise ConfigError(f"task {name!r}: give a path after '{prefix}:'")
        return _LOADERS[prefix].factory(arg)
    try:
        return _REGISTRY[name]()
    except KeyError:
        accepted = ", ".join(
            sorted(_REGISTRY) + [f"{p}:<path>" for p in sorted(_LOADERS)] + ["<file.py>@<task>"]
        )
        raise ConfigError(f"unknown task {name!r} (accepted: {accepted})") from None


def _task_from_file(spec: str) -> Task:
    """``path/to/file.py@name`` → the task ``name`` defined in that file."""
    file, _, attr = spec.rpartition("@")
    path = Path(file).expanduser()
    if not attr:
        raise ConfigError(f"task {spec!r}: give a task name after '@' (file.py@task_name)")
    if not path.is_file():
        raise ConfigError(f"task {spec!r}: file {file!r} does not exist")
    module = _import_file(path, spec)
    found = _find_in_module(module, attr)
    if found is None:
        defined = sorted(_tasks_in(module))
        listing = ", ".join(defined) if defined else "none"
        raise ConfigError(
            f"task {spec!r}: {file} defines no task named {attr!r} (tasks: {listing})"
        )
    if isinstance(found, Task):
        task = found
    elif isinstance(found, type) and issubclass(found, Task) and not inspect.isabstract(found):
        task = found()
    elif callable(found) and not isinstance(found, type):
        try:
            task = found()
        except Exception as exc:
            raise ConfigError(
                f"task {spec!r}: {attr}() failed: {type(exc).__name__}: {exc}"
            ) from None
    else:
        task = None
    if not isinstance(task, Task):
        what = type(found).__name__ if not isinstance(found, type) else f"class {found.__name__}"
        raise ConfigError(
            f"task {spec!r}: {attr!r} in {file} is not a Task (it is a {what}; expected a "
            "Task subclass, a Task instance or a function returning one)"
        )
    _FILE_TASKS[task.name] = type(task)
    _FILE_SOURCES[task.name] = f"{path.resolve()}@{attr}"
    return task


def file_task_sources(names: Iterable[str]) -> dict[str, str]:
    """Task name → ``/absolute/file.py@name`` for those of ``names`` loaded from a file."""
    return {n: _FILE_SOURCES[n] for n in sorted(set(names)) if n in _FILE_SOURCES}


def reload_file_tasks(sources: Mapping[str, str]) -> list[str]:
    """Load again the file tasks a run recorded (``file_task_sources``), so that their
    rubric and weights are known in this process too; one note per task, saying where it
    came from or why it could not be loaded (then the defaults apply)."""
    notes = []
    for name, spec in sorted(sources.items()):
        if task_class(name) is not None:
            continue
        try:
            get_task(spec)
        except ConfigError as exc:
            notes.append(f"task {name!r} not loaded again ({exc}): its samples get the "
                         "default rubric of their answer kind")  # fmt: skip
            continue
        notes.append(f"task {name!r}: rubric from {spec}")
    return notes


def _import_file(path: Path, spec: str) -> ModuleType:
    resolved = path.resolve()
    if resolved in _FILE_MODULES:
        return _FILE_MODULES[resolved]
    module_name = f"overthink_user_tasks.{resolved.stem}_{abs(hash(resolved)):x}"
    loader_spec = importlib.util.spec_from_file_location(module_name, resolved)
    if loader_spec is None or loader_spec.loader is None:
        raise ConfigError(f"task {spec!r}: {path} is not an importable Python file")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: report it as one line, not a traceback
        sys.modules.pop(module_name, None)
        raise ConfigError(
            f"task {spec!r}: importing {path} failed: {type(exc).__name__}: {exc}"
        ) from None
    _FILE_MODULES[resolved] = module
    return module


def _tasks_in(module: ModuleType) -> dict[str, object]:
    """Task classes defined in ``module`` by their task name."""
    out: dict[str, object] = {}
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, Task)
            and value.__module__ == module.__name__
            and not inspect.isabstract(value)
            and isinstance(vars(value).get("name"), str)
        ):
            out[vars(value)["name"]] = value
    return out


def _find_in_module(module: ModuleType, name: str) -> object | None:
    # A module attribute of that name first (a class, an instance or a factory function,
    # like inspect's @task functions), else a Task class whose task name is ``name``.
    if name in vars(module):
        found: object = vars(module)[name]
        return found
    return _tasks_in(module).get(name)


def _accept_plugin(ep: EntryPoint, loaded: object) -> None:
    # A module registers its tasks on import; a Task class named directly is registered.
    if isinstance(loaded, type) and issubclass(loaded, Task):
        register(loaded)


def _load_builtins() -> None:
    # Importing the package registers every built-in task module.
    import overthink.tasks.builtin  # noqa: F401

    load_group("overthink.tasks", _accept_plugin)
