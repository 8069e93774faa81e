"""Shared fixtures: one embedded llama.cpp server (real SmolLM2) for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from overthink.engines.embedded import EmbeddedServer


@pytest.fixture(scope="session")
def embedded_server() -> Iterator[EmbeddedServer]:
    """The process-wide embedded server; every engine test shares it."""
    server = EmbeddedServer.shared(slots=4)
    yield server
    EmbeddedServer.stop_all()
