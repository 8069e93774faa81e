"""``provider/model`` names → engines, through a registry of providers.

Each provider registers itself with the :func:`provider` decorator (like inspect_ai's
``@modelapi``) on a factory ``(model name, text after the slash, options) → Engine``.
The built-in providers live in :mod:`overthink.engines.providers` (listed by
:mod:`overthink.engines.builtin`), which imports their
engine modules lazily so that ``--help`` and validation stay fast; third-party packages
add theirs through the ``overthink.engines`` entry-point group. Names in errors
("accepted: …") and help texts come from here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace

from overthink.engines.base import Engine
from overthink.engines.markers import ThinkMarkers
from overthink.errors import ConfigError
from overthink.plugins import load_group

__all__ = [
    "DEFAULT_CONCURRENCY",
    "VLLM_CONCURRENCY",
    "EngineOptions",
    "Provider",
    "ProviderFactory",
    "get_provider",
    "make_engine",
    "provider",
    "provider_help",
    "provider_usages",
    "providers",
    "validate_model_name",
]

DEFAULT_CONCURRENCY = 4
"""Requests in flight when neither the config nor the server says (hosted APIs included)."""
VLLM_CONCURRENCY = 32
"""Requests in flight to a ``vllm/`` server when the config sets none."""


@dataclass
class EngineOptions:
    """Knobs shared by every engine."""

    base_url: str | None = None
    """Server URL for openai-api/ and vllm/ models; an endpoint override for openai/ and
    anthropic/ (e.g. a proxy, or a local test server)."""
    base_urls: tuple[str, ...] = ()
    """Several endpoints serving the same model (a fleet): with two or more, the engine is
    an ``EndpointPool`` over one engine per URL; ``base_url`` is then the first of them."""
    concurrency: int | None = None
    """Requests in flight; None = the server's slot count where it says (llama.cpp
    ``/props``), the embedded server's measured best, else ``DEFAULT_CONCURRENCY``."""
    deterministic: bool = False
    max_retries: int = 4
    """Retries per request after the first attempt (429, 5xx, timeouts, bad bodies)."""
    connect_timeout_s: float = 10.0
    """Seconds to open a connection to the server."""
    read_timeout_s: float = 600.0
    """Seconds to wait for the server's next bytes (not for the whole answer): long
    reasoning without streaming sends nothing until done, so this must cover one call."""
    ctx_per_slot: int = 4096
    native_style: str | None = None
    """How openai-api/ models receive native budgets (default ``gemini``)."""
    effort_edges: tuple[int, ...] = (2048, 8192)
    """Token budgets at which ``reasoning_effort`` steps up a level."""
    effort_levels: tuple[str, ...] = ("low", "medium", "high")
    think_open: str | None = None
    """Thinking markers for completion engines; None = from the chat template."""
    think_close: str | None = None
    pin_slots: str = "auto"
    """Name llama.cpp slots (``id_slot``) for cache-aware placement: ``auto`` (where the
    slots are known, unless another client shares the server), ``on`` or ``off``
    (``engines.pinning``)."""

    def markers(self) -> ThinkMarkers | None:
        """The configured thinking markers, or None to read them from the chat template."""
        if self.think_open is None and self.think_close is None:
            return None
        if not self.think_open or not self.think_close:
            raise ConfigError("think_open and think_close must be set together")
        return ThinkMarkers(self.think_open, self.think_close, "config")


ProviderFactory = Callable[[str, str, EngineOptions], Engine]
"""``(model name as given, text after 'provider/', options) → Engine``."""


@dataclass(frozen=True)
class Provider:
    """One ``provider/`` prefix: how to check a model name and build its engine."""

    name: str
    factory: ProviderFactory
    usage: str
    """How a model name of this provider is written (``vllm/<model>``): errors and help."""
    takes_model: bool = True
    """``provider/<model>``; False for a bare name (``embedded``)."""
    needs_base_url: bool = False
    """The engine talks to a server the user names with ``--base-url``."""
    api_key_env: str | None = None
    """Environment variable that must hold an API key."""
    in_process: bool = False
    """The model runs in this process (llama.cpp): no endpoint pools, cores are shared."""
    check: Callable[[str, str], None] | None = None
    """Extra validation without I/O beyond stat: ``(model name, rest)`` → raise ConfigError."""


_PROVIDERS: dict[str, Provider] = {}


def provider(
    name: str,
    *,
    usage: str | None = None,
    takes_model: bool = True,
    needs_base_url: bool = False,
    api_key_env: str | None = None,
    in_process: bool = False,
    check: Callable[[str, str], None] | None = None,
) -> Callable[[ProviderFactory], ProviderFactory]:
    """Decorator: register ``factory`` as the provider ``name`` (models ``name/<model>``)."""

    def decorate(factory: ProviderFactory) -> ProviderFactory:
        seen = _PROVIDERS.get(name)
        if seen is not None and seen.factory is not factory:
            raise ValueError(f"provider {name!r} registered twice")
        _PROVIDERS[name] = Provider(
            name=name,
            factory=factory,
            usage=usage or (f"{name}/<model>" if takes_model else name),
            takes_model=takes_model,
            needs_base_url=needs_base_url,
            api_key_env=api_key_env,
            in_process=in_process,
            check=check,
        )
        return factory

    return decorate


def providers() -> list[Provider]:
    """Every registered provider, built-ins first (in registration order)."""
    import overthink.engines.builtin  # noqa: F401 - registers the built-ins

    load_group("overthink.engines")
    return list(_PROVIDERS.values())


def provider_usages() -> list[str]:
    """How each provider's model names are written (``embedded``, ``vllm/<model>``...)."""
    return [p.usage for p in providers()]


def provider_help() -> str:
    """One line for ``--model`` help texts."""
    return ", ".join(provider_usages()) + "."


def get_provider(name: str) -> Provider | None:
    """The provider a model name belongs to (None: no provider accepts that shape)."""
    prefix, sep, rest = name.partition("/")
    for p in providers():
        if p.takes_model and sep and rest and prefix == p.name:
            return p
        if not p.takes_model and name == p.name:
            return p
    return None


def _api_key(p: Provider) -> str | None:
    return (os.environ.get(p.api_key_env) or None) if p.api_key_env else None


def validate_model_name(name: str, options: EngineOptions) -> None:
    """Raise ``ConfigError`` for a model name no provider accepts (no I/O beyond stat)."""
    p = get_provider(name)
    if p is None:
        # Short on purpose: the list is part of a one-line error. The needs of each
        # provider (--base-url, an API key) have their own errors.
        raise ConfigError(f"unknown model {name!r} (accepted: {', '.join(provider_usages())})")
    rest = name.partition("/")[2]
    if p.check is not None:
        p.check(name, rest)
    if p.needs_base_url and not options.base_url:
        raise ConfigError(f"model {name!r} needs --base-url (e.g. http://localhost:8000/v1)")
    if p.api_key_env and _api_key(p) is None:
        raise ConfigError(
            f"model {name!r} needs an API key in the environment variable {p.api_key_env}"
        )


def make_engine(name: str, options: EngineOptions) -> Engine:
    """Build the engine for a model name (starts the embedded server when needed).

    With several ``base_urls`` the result is an ``EndpointPool`` of one engine per URL.
    """
    validate_model_name(name, options)
    p = get_provider(name)
    assert p is not None
    urls = tuple(dict.fromkeys(options.base_urls))
    if len(urls) > 1:
        if p.in_process:
            remote = [q.name + "/" for q in providers() if not q.in_process]
            listed = " or ".join(
                [", ".join(remote[:-1]), remote[-1]] if len(remote) > 1 else remote
            )
            raise ConfigError(
                f"model {name!r} runs in-process: several --base-url need an {listed} model"
            )
        from overthink.engines.pool import EndpointPool

        members = [
            (url, make_engine(name, replace(options, base_url=url, base_urls=()))) for url in urls
        ]
        return EndpointPool(name, members)
    options.markers()  # half-set thinking markers are an error for every provider
    return p.factory(name, name.partition("/")[2], options)
