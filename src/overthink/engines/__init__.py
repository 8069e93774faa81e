"""Engines: async clients for model servers, and the ``provider/model`` registry."""

from overthink.engines.base import ChatResult, CompletionResult, Engine, Message
from overthink.engines.registry import EngineOptions, make_engine, validate_model_name

__all__ = [
    "ChatResult",
    "CompletionResult",
    "Engine",
    "EngineOptions",
    "Message",
    "make_engine",
    "validate_model_name",
]
