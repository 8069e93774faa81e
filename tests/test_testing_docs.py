"""docs/testing.md's complete example runs and passes, as a user would run it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "testing.md"


def _example() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### A complete example", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "docs/testing.md lost its example"
    return match.group(1)


def test_the_documented_example_passes(tmp_path: Path) -> None:
    example = tmp_path / "test_my_task.py"
    example.write_text(_example(), encoding="utf-8")
    # A fresh interpreter, outside this repository's pytest configuration: what a user
    # gets with `pytest test_my_task.py` in their own project.
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore",
         str(example)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout, proc.stdout
