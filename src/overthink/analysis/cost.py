"""Cost axes for Pareto fronts: tokens, dollars, latency and KV-aware eFLOPs ("Kinetics").

``tokens``
    prompt + reasoning + answer tokens, summed over the k samples of a configuration.
``usd``
    tokens × price. Prices are USD per million tokens, per model: a built-in table of a
    few public list prices (:data:`DEFAULT_PRICES`, dated — check your provider) that the
    user overrides or extends with ``prices={"model": usd_per_mtok}`` or, to price input
    and output differently, ``{"model:input": .., "model:output": ..}``.
``latency``
    wall-clock seconds. The k samples are assumed to run in parallel, so a k-sample
    configuration costs the expected *maximum* latency of k of the question's samples.
``eflops``
    the memory-aware cost model of Kinetics (Sadhukhan, Chen, Zheng, Zhou, Strubell, Chen,
    "Kinetics: Rethinking Test-Time Scaling Laws", arXiv:2506.05333, 2025, §3 / their
    ``cost_model/utils.py::dense_cost``). For N samples of ``L_out`` generated tokens after
    a shared prompt of ``L_in`` tokens, on a model with P (active) parameters, ``n_layers``
    layers, ``n_heads`` query heads and ``n_kv`` key/value heads of width ``d``::

        compute = N · [2·P·L_out + 2·(2·L_in + L_out)·L_out·n_layers·n_heads·d]
        memory  = D · (L_in·L_out + N·L_out²/2)           (bytes of KV cache read)
        eFLOPs  = compute + I · memory

    with ``D = 2·n_layers·n_kv·d·b`` bytes of KV cache per token (K and V, ``b`` = 2 bytes
    for bf16) and ``I`` the hardware's arithmetic intensity in FLOPs per byte
    (:data:`DEFAULT_INTENSITY` = 562.5, the paper's B200 value). The first memory term is
    the shared prompt's KV read once per decoding step for the whole batch; the second
    each sample reading its own growing KV cache. Parameter reads are left out, as in the
    paper (amortised over large batches). With samples of different lengths we sum the
    per-sample terms and charge the prompt term for the longest sample. Model shapes come
    from :data:`MODEL_SHAPES` or the user (``shapes={"model": ModelShape(...)}``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml

from overthink.analysis.stats import FloatArray
from overthink.errors import ConfigError

__all__ = [
    "COST_AXES",
    "DEFAULT_INTENSITY",
    "DEFAULT_PRICES",
    "MODEL_SHAPES",
    "ModelShape",
    "kinetics_parts",
    "load_prices",
    "load_shapes",
    "lookup",
    "price_for",
    "shape_for",
]

_T = TypeVar("_T")

COST_AXES = ("tokens", "usd", "latency", "eflops")
"""Accepted ``cost`` values."""

DEFAULT_INTENSITY = 562.5
"""FLOPs per byte: NVIDIA B200 arithmetic intensity used by Kinetics."""


@dataclass(frozen=True)
class ModelShape:
    """What the Kinetics cost model needs to know about a transformer."""

    params: float
    """Active parameters (all of them for a dense model)."""
    layers: int
    heads: int
    """Query heads per layer."""
    kv_heads: int
    """Key/value heads per layer (fewer than ``heads`` under grouped-query attention)."""
    head_dim: int
    kv_bytes: float = 2.0
    """Bytes per cached value (2 = bf16/fp16)."""

    @property
    def kv_bytes_per_token(self) -> float:
        """``D``: bytes of K and V cache one token occupies across all layers."""
        return 2.0 * self.layers * self.kv_heads * self.head_dim * self.kv_bytes

    @property
    def attention_width(self) -> float:
        """``n_layers · n_heads · d``: the attention FLOPs factor."""
        return float(self.layers * self.heads * self.head_dim)


# Shapes from the models' published configs (config.json).
MODEL_SHAPES: dict[str, ModelShape] = {
    "smollm2-135m": ModelShape(params=1.35e8, layers=30, heads=9, kv_heads=3, head_dim=64),
    "smollm2-360m": ModelShape(params=3.62e8, layers=32, heads=15, kv_heads=5, head_dim=64),
    "smollm2-1.7b": ModelShape(params=1.71e9, layers=24, heads=32, kv_heads=32, head_dim=64),
    "qwen3-0.6b": ModelShape(params=0.6e9, layers=28, heads=16, kv_heads=8, head_dim=128),
    "qwen3-1.7b": ModelShape(params=1.7e9, layers=28, heads=16, kv_heads=8, head_dim=128),
    "qwen3-4b": ModelShape(params=4.0e9, layers=36, heads=32, kv_heads=8, head_dim=128),
    "qwen3-8b": ModelShape(params=8.2e9, layers=36, heads=32, kv_heads=8, head_dim=128),
    "qwen3-14b": ModelShape(params=14.8e9, layers=40, heads=40, kv_heads=8, head_dim=128),
    "qwen3-32b": ModelShape(params=32.8e9, layers=64, heads=64, kv_heads=8, head_dim=128),
    "deepseek-r1-distill-qwen-1.5b": ModelShape(
        params=1.78e9, layers=28, heads=12, kv_heads=2, head_dim=128
    ),
    "deepseek-r1-distill-qwen-7b": ModelShape(
        params=7.6e9, layers=28, heads=28, kv_heads=4, head_dim=128
    ),
}
# The default engine always serves the bundled SmolLM2-135M-Instruct.
MODEL_SHAPES["embedded"] = MODEL_SHAPES["smollm2-135m"]

# USD per million tokens (input, output): public list prices as of mid-2025. Illustrative
# defaults only — prices change; pass your own.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "o3-mini": (1.1, 4.4),
    "o4-mini": (1.1, 4.4),
    "o3": (2.0, 8.0),
    "deepseek-reasoner": (0.55, 2.19),
    "deepseek-r1": (0.55, 2.19),
    "gemini-2.5-pro": (1.25, 10.0),
    "gemini-2.5-flash": (0.30, 2.50),
}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "", name.lower())


def lookup(model: str, table: Mapping[str, _T]) -> _T | None:
    """Entry for ``model``: exact key, else the longest key contained in the model name.

    Model names carry providers and file suffixes (``openai/o3-mini``,
    ``local/Qwen3-8B-Q4_K_M.gguf``), so ``qwen3-8b`` must match the latter; the longest
    match wins so ``o3-mini`` is not priced as ``o3``.
    """
    if model in table:
        return table[model]
    target = _norm(model)
    best: tuple[int, _T] | None = None
    for key, value in table.items():
        k = _norm(key)
        if k and k in target and (best is None or len(k) > best[0]):
            best = (len(k), value)
    return None if best is None else best[1]


def price_for(model: str, prices: Mapping[str, float] | None = None) -> tuple[float, float] | None:
    """(input, output) USD per million tokens for ``model``, user prices first."""
    user = dict(prices or {})
    if user:
        split_in = {k[: -len(":input")]: v for k, v in user.items() if k.endswith(":input")}
        split_out = {k[: -len(":output")]: v for k, v in user.items() if k.endswith(":output")}
        flat = {
            k: v for k, v in user.items() if ":" not in k or not k.endswith((":input", ":output"))
        }
        p_in, p_out = lookup(model, split_in), lookup(model, split_out)
        p_flat = lookup(model, flat)
        if p_in is not None or p_out is not None or p_flat is not None:
            fallback = p_flat if p_flat is not None else (p_in if p_in is not None else p_out)
            assert fallback is not None
            return (
                float(p_in if p_in is not None else fallback),
                float(p_out if p_out is not None else fallback),
            )
    default = lookup(model, DEFAULT_PRICES)
    return None if default is None else (float(default[0]), float(default[1]))


def shape_for(model: str, shapes: Mapping[str, ModelShape] | None = None) -> ModelShape | None:
    """The model's shape: user table first, then :data:`MODEL_SHAPES`."""
    if shapes:
        found = lookup(model, shapes)
        if found is not None:
            return found
    return lookup(model, MODEL_SHAPES)


def kinetics_parts(
    shape: ModelShape,
    prompt_tokens: FloatArray,
    generated_tokens: FloatArray,
    intensity: float = DEFAULT_INTENSITY,
) -> tuple[FloatArray, FloatArray]:
    """Per-sample eFLOPs and the shared-prompt coefficient (see the module docstring).

    Returns ``(own, shared)``: a batch of samples costs ``Σ own + shared · max(L_out)``.
    For one sample that is ``own + shared · L_out``.
    """
    lin = np.asarray(prompt_tokens, dtype=float)
    lout = np.asarray(generated_tokens, dtype=float)
    compute = 2.0 * shape.params * lout + 2.0 * (2.0 * lin + lout) * lout * shape.attention_width
    own = compute + intensity * shape.kv_bytes_per_token * lout * lout / 2.0
    shared = intensity * shape.kv_bytes_per_token * lin
    return own, shared


# --- the user's own price and shape files (--prices, --shapes) ---


def _read_yaml(path: Path, what: str) -> Any:
    """The parsed YAML/JSON of a ``what`` file (``prices``, ``shapes``), or a ConfigError."""
    if path.is_dir():
        raise ConfigError(f"{what} file {str(path)!r} is a folder (expected a YAML/JSON file)")
    if not path.is_file():
        raise ConfigError(f"{what} file {str(path)!r} does not exist")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what} file {str(path)!r} is not UTF-8 text (offset {exc.start})"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{what} file {str(path)!r} cannot be read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        # PyYAML's message spans several lines (problem, context, a quoted snippet).
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"{what} file {str(path)!r}{line}: not valid YAML/JSON ({problem})"
        ) from None


def load_prices(path: Path) -> dict[str, float]:
    """Read a ``model: usd_per_million_tokens`` mapping from a YAML or JSON file."""
    data = _read_yaml(path, "prices")
    if not isinstance(data, dict):
        raise ConfigError(
            f"prices file {str(path)!r} must map model names (or 'model:input'/'model:output') "
            "to USD per million tokens"
        )
    out: dict[str, float] = {}
    for key, value in data.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"prices file {str(path)!r}: price of {key!r} is {value!r}, not a number"
            ) from None
    return out


_SHAPE_FIELDS = ("params", "layers", "heads", "kv_heads", "head_dim")


def load_shapes(path: Path) -> dict[str, ModelShape]:
    """Read ``model: {params, layers, heads, kv_heads, head_dim[, kv_bytes]}`` (YAML/JSON)
    for the eFLOPs cost axis."""
    data = _read_yaml(path, "shapes")
    if not isinstance(data, dict) or not data:
        raise ConfigError(
            f"shapes file {str(path)!r} must map model names to "
            f"{{{', '.join(_SHAPE_FIELDS)}[, kv_bytes]}}"
        )
    out: dict[str, ModelShape] = {}
    for model, fields in data.items():
        where = f"shapes file {str(path)!r}, model {model!r}"
        if not isinstance(fields, dict):
            raise ConfigError(f"{where}: expected a mapping of {', '.join(_SHAPE_FIELDS)}")
        unknown = set(fields) - {*_SHAPE_FIELDS, "kv_bytes"}
        missing = [f for f in _SHAPE_FIELDS if f not in fields]
        if unknown or missing:
            problem = (
                f"unknown field(s) {', '.join(sorted(map(str, unknown)))}"
                if unknown
                else f"missing field(s) {', '.join(missing)}"
            )
            raise ConfigError(f"{where}: {problem} (expected {', '.join(_SHAPE_FIELDS)}"
                              "[, kv_bytes])")  # fmt: skip
        values: dict[str, float] = {}
        for name, value in fields.items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                number = float("nan")
            if not math.isfinite(number) or number <= 0:
                raise ConfigError(f"{where}: {name} is {value!r}, expected a positive number")
            values[str(name)] = number
        out[str(model)] = ModelShape(
            params=values["params"], layers=int(values["layers"]), heads=int(values["heads"]),
            kv_heads=int(values["kv_heads"]), head_dim=int(values["head_dim"]),
            kv_bytes=values.get("kv_bytes", 2.0),
        )  # fmt: skip
    return out
