"""``provider/model`` names → engines."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from overthink.engines.base import Engine
from overthink.errors import ConfigError

__all__ = ["EngineOptions", "make_engine", "validate_model_name"]

PROVIDERS = ("embedded", "llamacpp/<path.gguf>", "openai-api/<model> (needs --base-url)")


@dataclass
class EngineOptions:
    """Knobs shared by every engine."""

    base_url: str | None = None
    concurrency: int = 4
    deterministic: bool = False
    max_retries: int = 4
    ctx_per_slot: int = 4096


def validate_model_name(name: str, options: EngineOptions) -> None:
    """Raise ``ConfigError`` for a model name no provider accepts (no I/O beyond stat)."""
    provider, sep, rest = name.partition("/")
    if name == "embedded":
        return
    if provider == "llamacpp" and sep and rest:
        if not Path(rest).expanduser().is_file():
            raise ConfigError(f"model {name!r}: GGUF file {rest!r} does not exist")
        return
    if provider == "openai-api" and sep and rest:
        if not options.base_url:
            raise ConfigError(f"model {name!r} needs --base-url (e.g. http://localhost:8000/v1)")
        return
    raise ConfigError(f"unknown model {name!r} (accepted: {', '.join(PROVIDERS)})")


def make_engine(name: str, options: EngineOptions) -> Engine:
    """Build the engine for a model name (starts the embedded server when needed)."""
    validate_model_name(name, options)
    provider, _, rest = name.partition("/")
    if name == "embedded" or provider == "llamacpp":
        from overthink.engines.embedded import EmbeddedEngine

        path = Path(rest).expanduser() if provider == "llamacpp" else None
        return EmbeddedEngine(
            name,
            path,
            # Deterministic mode shares the server but keeps one request in flight
            # (the engine's concurrency) and turns prompt-cache reuse off per request.
            slots=options.concurrency,
            ctx_per_slot=options.ctx_per_slot,
            deterministic=options.deterministic,
            max_retries=options.max_retries,
        )
    from overthink.engines.openai_compat import OpenAICompatEngine

    assert options.base_url is not None
    return OpenAICompatEngine(
        name,
        rest,
        options.base_url,
        api_key=os.environ.get("OVERTHINK_API_KEY") or os.environ.get("OPENAI_API_KEY") or "none",
        concurrency=options.concurrency,
        deterministic=options.deterministic,
        max_retries=options.max_retries,
    )
