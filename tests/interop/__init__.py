"""Interop tests: a package so their conftest is ``interop.conftest`` for mypy, not a second
top-level ``conftest`` beside tests/conftest.py."""
