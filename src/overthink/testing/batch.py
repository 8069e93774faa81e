"""Read what the batch executor wrote (its JSONL request files), for tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["batch_file_lines"]


def batch_file_lines(path: Path) -> list[dict[str, Any]]:
    """The requests of a written batch file, one dict per line."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
