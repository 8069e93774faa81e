"""Write imported records into a run folder: all of them, or none.

A new run folder is built under a temporary name beside its destination and renamed into
place only when every record is stored; an existing run gets the new records in one SQLite
transaction (streamed: rows go in as they are mapped, memory stays flat) that is rolled
back if any input turns out bad. Either way a failed import leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overthink._version import __version__
from overthink.core import Record
from overthink.errors import ConfigError
from overthink.experiment.store import STORE_FILE, Store

__all__ = ["ImportReport", "existing_manifest", "write_run"]


@dataclass
class ImportReport:
    """What an import did, for the CLI to print."""

    run_dir: Path
    added: int = 0
    already: int = 0
    notes: list[str] = field(default_factory=list)
    """One line per thing the user should know (no budget axis, stripped thinking...)."""
    created: bool = False


def existing_manifest(run_dir: Path) -> dict[str, Any]:
    """The manifest of an existing run folder ({} for a new one)."""
    if not (run_dir / STORE_FILE).is_file():
        return {}
    with Store.of_run(run_dir) as store:
        value = store.get_meta("manifest")
    return dict(value) if isinstance(value, dict) else {}


def write_run(
    run_dir: Path, records: Iterable[Record], manifest_update: dict[str, Any]
) -> tuple[int, int, bool]:
    """Store ``records`` in ``run_dir`` atomically; returns (added, seen, created).

    ``manifest_update`` is merged into the run manifest: ``imports`` lists are appended
    (one entry per source file, deduplicated by hash), other keys overwrite.
    """
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir} exists and is not a folder")
    exists = (run_dir / STORE_FILE).is_file()
    if run_dir.is_dir() and not exists and any(run_dir.iterdir()):
        raise ConfigError(f"{run_dir} is a non-empty folder without {STORE_FILE}: not a run folder")
    target = run_dir
    tmp: Path | None = None
    if not exists:
        run_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = run_dir.parent / f".{run_dir.name}.importing-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        target = tmp
    seen = 0

    def counted() -> Iterable[Record]:
        nonlocal seen
        for rec in records:
            seen += 1
            yield rec

    try:
        with Store(target / STORE_FILE) as store:
            added = store.add_many(counted())
            manifest = store.get_meta("manifest") or {}
            _merge(manifest, manifest_update)
            store.set_meta("manifest", manifest)
        if tmp is not None:
            if run_dir.exists():  # an empty folder the user made for it
                run_dir.rmdir()
            tmp.rename(run_dir)
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return added, seen, not exists


def _merge(manifest: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if key == "imports":
            have = {(i.get("sha256"), i.get("file")) for i in manifest.get("imports", [])}
            entries = list(manifest.get("imports", []))
            entries += [i for i in value if (i.get("sha256"), i.get("file")) not in have]
            manifest["imports"] = entries
        elif key in ("models", "tasks", "budgets"):
            merged = list(manifest.get(key, []))
            merged += [v for v in value if v not in merged]
            manifest[key] = merged
        else:
            manifest[key] = value
    manifest.setdefault("tool_version", __version__)
    manifest.setdefault("started_at", time.time())
