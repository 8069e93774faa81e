"""Run OpenBLAS single-threaded while the analysis runs.

The analysis does thousands of *small* matrix products (bootstrap weights × per-question
sums). Multi-threaded OpenBLAS spins its worker threads up for each one; on a busy
machine those threads wait for a core and the products get slower, not faster. Measured
on the 1M-record benchmark on 2 shared cores: 13.3 s with OpenBLAS's default threads,
4.7 s single-threaded. threadpoolctl does this properly but is not a dependency; this is
the few lines of it we need: find the OpenBLAS that numpy (and scipy) loaded, set its
thread count to 1, restore it afterwards. Anywhere the library or its symbols cannot be
found (macOS Accelerate, MKL, no ``/proc``) it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["single_threaded_blas"]

_SUFFIXES = ("64_", "")
_PREFIXES = ("scipy_openblas", "openblas")


def _loaded_openblas() -> list[str]:
    maps = Path("/proc/self/maps")
    try:
        text = maps.read_text()
    except OSError:
        return []
    return sorted(
        {
            line.split()[-1]
            for line in text.splitlines()
            if "openblas" in line.lower() and "/" in line
        }
    )


def _controls(path: str) -> tuple[Callable[[int], None], Callable[[], int]] | None:
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    for prefix in _PREFIXES:
        for suffix in _SUFFIXES:
            setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            if setter is not None and getter is not None:
                setter.argtypes = [ctypes.c_int]
                setter.restype = None
                getter.argtypes = []
                getter.restype = ctypes.c_int
                return setter, getter
    return None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Context manager: OpenBLAS uses one thread inside, its previous setting after."""
    restore: list[tuple[Callable[[int], None], int]] = []
    for path in _loaded_openblas():
        found = _controls(path)
        if found is None:
            continue
        setter, getter = found
        try:
            previous = int(getter())
            setter(1)
        except Exception:  # a foreign build with odd symbols: leave it alone
            continue
        restore.append((setter, previous))
    try:
        yield
    finally:
        for setter, previous in restore:
            setter(previous)
