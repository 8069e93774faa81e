"""The CLI's modules are siblings: one module per command, none importing another.

A command module (one listed in ``cli.lazy.LAZY_COMMANDS``) may import the shared modules
(``cli.app``, ``cli.tables``, …) but never another command's module, at module level or
inside a function; shared code goes to a shared module. Read from the source with ``ast``,
so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import overthink.cli
from overthink.cli.lazy import LAZY_COMMANDS

CLI_DIR = Path(overthink.cli.__file__).parent
COMMAND_MODULES = {lazy.module for lazy in LAZY_COMMANDS.values()}


def _module_name(path: Path) -> str:
    return "overthink.cli" if path.stem == "__init__" else f"overthink.cli.{path.stem}"


def _imported_modules(path: Path) -> set[str]:
    """Every overthink.cli.* module ``path`` imports (``from overthink.cli import x`` too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from overthink.cli import run` imports the module overthink.cli.run.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("overthink.cli.")}


def _command_decorated(path: Path) -> bool:
    """True when the module registers a command or command group on a Typer app."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ("command", "add_typer"):
            return True
    return False


def test_no_command_module_imports_another_command_module() -> None:
    offenders = []
    for path in sorted(CLI_DIR.glob("*.py")):
        this = _module_name(path)
        for imported in sorted(_imported_modules(path) & COMMAND_MODULES - {this}):
            offenders.append(f"{path.name} imports {imported}")
    assert offenders == [], "move the shared code to a shared module (cli/tables.py, cli/app.py)"


def test_every_command_module_is_registered_for_lazy_loading() -> None:
    """A module that adds commands must be in LAZY_COMMANDS (fast --help, and the rule
    above would not see it as a command module otherwise)."""
    registering = {_module_name(p) for p in CLI_DIR.glob("*.py") if _command_decorated(p)}
    assert registering == COMMAND_MODULES
    for module in COMMAND_MODULES:
        assert (CLI_DIR / f"{module.rsplit('.', 1)[1]}.py").is_file(), module


def test_verify_has_its_own_module() -> None:
    assert LAZY_COMMANDS["verify"].module == "overthink.cli.verify"


def test_the_scan_sees_imports_inside_functions(tmp_path: Path) -> None:
    """The checker itself: a lazy import of a command module inside a function is found."""
    source = tmp_path / "example.py"
    source.write_text(
        "def f():\n    from overthink.cli.analyze import x\n"
        "from overthink.cli import run\nimport overthink.cli.report\n"
    )
    found = _imported_modules(source) & COMMAND_MODULES
    assert found == {"overthink.cli.analyze", "overthink.cli.run", "overthink.cli.report"}
