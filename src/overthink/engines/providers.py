"""The built-in providers, one registration each.

Engine modules are imported inside each factory: they pull in HTTP clients and SDKs
that ``--help`` and name validation do not need.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overthink.engines.base import Engine
from overthink.engines.registry import (
    DEFAULT_CONCURRENCY,
    VLLM_CONCURRENCY,
    EngineOptions,
    provider,
)
from overthink.errors import ConfigError

if TYPE_CHECKING:
    from overthink.engines.openai_compat import OpenAICompatEngine

__all__: list[str] = []


def _gguf_exists(name: str, rest: str) -> None:
    if not Path(rest).expanduser().is_file():
        raise ConfigError(f"model {name!r}: GGUF file {rest!r} does not exist")


def _embedded(name: str, rest: str, options: EngineOptions) -> Engine:
    from overthink.engines.embedded import EmbeddedEngine

    return EmbeddedEngine(
        name,
        Path(rest).expanduser() if rest else None,
        # Deterministic mode shares the server but keeps one request in flight
        # (the engine's concurrency) and turns prompt-cache reuse off per request.
        slots=options.concurrency,
        ctx_per_slot=options.ctx_per_slot,
        deterministic=options.deterministic,
        max_retries=options.max_retries,
        markers=options.markers(),
        timeout_s=options.read_timeout_s,
        connect_timeout_s=options.connect_timeout_s,
        pin_slots_mode=options.pin_slots,
    )


provider("embedded", takes_model=False, in_process=True)(_embedded)
provider("llamacpp", usage="llamacpp/<path.gguf>", in_process=True, check=_gguf_exists)(_embedded)


def _common(options: EngineOptions, default: int | None) -> dict[str, Any]:
    return {
        "concurrency": options.concurrency or default,
        "deterministic": options.deterministic,
        "max_retries": options.max_retries,
        "timeout_s": options.read_timeout_s,
        "connect_timeout_s": options.connect_timeout_s,
    }


def _effort(options: EngineOptions) -> Any:
    from overthink.engines.openai_compat import EffortBuckets

    return EffortBuckets(tuple(options.effort_edges), tuple(options.effort_levels))


def _self_hosted(
    cls: type[OpenAICompatEngine],
    name: str,
    rest: str,
    options: EngineOptions,
    *,
    native_style: str,
    concurrency: int | None,
) -> Engine:
    """An engine for a server the user runs (``--base-url``), OpenAI-compatible."""
    assert options.base_url is not None
    return cls(
        name,
        rest,
        options.base_url,
        # Self-hosted servers usually need no key; one is sent when set. Never
        # OPENAI_API_KEY: a real OpenAI key must not travel to whatever --base-url points at.
        api_key=os.environ.get("OVERTHINK_API_KEY") or "none",
        native_style=options.native_style or native_style,
        effort=_effort(options),
        markers=options.markers(),
        pin_slots_mode=options.pin_slots,
        **_common(options, concurrency),
    )


@provider("openai-api", needs_base_url=True)
def _openai_api(name: str, rest: str, options: EngineOptions) -> Engine:
    from overthink.engines.openai_compat import OpenAICompatEngine

    # No concurrency default: the engine asks the server's /props for its slot count.
    return _self_hosted(
        OpenAICompatEngine, name, rest, options, native_style="gemini", concurrency=None
    )


@provider("vllm", needs_base_url=True)
def _vllm(name: str, rest: str, options: EngineOptions) -> Engine:
    from overthink.engines.vllm import VLLMEngine

    # vLLM batches up to its max_num_seqs (256 by default) and has no /props to ask:
    # keep enough requests in flight to fill a batch.
    return _self_hosted(
        VLLMEngine, name, rest, options, native_style="vllm", concurrency=VLLM_CONCURRENCY
    )


def _hosted(
    cls: Callable[..., Engine],
    key_env: str,
    name: str,
    rest: str,
    options: EngineOptions,
    **extra: Any,
) -> Engine:
    """An engine for a hosted API: its key from ``key_env``, ``--base-url`` an override."""
    return cls(
        name,
        rest,
        api_key=os.environ[key_env],
        base_url=options.base_url,
        **extra,
        **_common(options, DEFAULT_CONCURRENCY),
    )


@provider("openai", api_key_env="OPENAI_API_KEY")
def _openai(name: str, rest: str, options: EngineOptions) -> Engine:
    from overthink.engines.openai_platform import OpenAIEngine

    return _hosted(OpenAIEngine, "OPENAI_API_KEY", name, rest, options, effort=_effort(options))


@provider("anthropic", api_key_env="ANTHROPIC_API_KEY")
def _anthropic(name: str, rest: str, options: EngineOptions) -> Engine:
    from overthink.engines.anthropic_messages import AnthropicEngine

    return _hosted(AnthropicEngine, "ANTHROPIC_API_KEY", name, rest, options)
