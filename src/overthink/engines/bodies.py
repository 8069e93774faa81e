"""Response bodies that are not what the wire format promises, turned into retryable errors.

A server under load, a proxy in between or a half-closed connection can answer HTTP 200
with garbage, truncated JSON or a completion without ``choices``. The ``openai`` SDK then
returns a bare string, raises ``json.JSONDecodeError`` or hands back an object whose
``choices`` is empty, and the caller fails later with an unrelated internal error. Each
check here raises :class:`~overthink.engines.retry.BadResponse` instead, which the retry
loop retries like a 5xx and whose text says (truncated) what the server sent.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from overthink.engines.retry import BadResponse, note_repaired
from overthink.textsafe import storable

__all__ = [
    "SNIPPET_CHARS",
    "bad_json",
    "clean_text",
    "expect_choices",
    "expect_json_object",
    "snippet",
]

T = TypeVar("T")

SNIPPET_CHARS = 160
"""How much of a bad body an error message quotes."""


def snippet(body: object, limit: int = SNIPPET_CHARS) -> str:
    """A short, printable quote of a response body (``repr`` escapes control codes)."""
    if isinstance(body, bytes):
        text = body.decode("utf-8", errors="replace")
    elif isinstance(body, str):
        text = body
    elif hasattr(body, "model_dump_json"):
        try:
            text = str(body.model_dump_json())
        except Exception:  # an unserialisable body is still described, never raised
            text = repr(body)
    else:
        text = repr(body)
    size = len(text)
    if size == 0:
        return "an empty body"
    if size > limit:
        return f"{text[:limit]!r}… ({size} chars)"
    return repr(text)


def expect_choices(
    call: Callable[[], Awaitable[T]], source: str, *, chat: bool
) -> Callable[[], Awaitable[T]]:
    """``call`` (an SDK request), checked to return a completion with a usable first choice.

    ``chat``: the choice must carry a ``message`` (chat completions); otherwise ``text``
    (legacy completions).
    """

    async def checked() -> T:
        try:
            resp = await call()
        except json.JSONDecodeError as exc:
            raise bad_json(exc, source) from None
        _check_choices(resp, source, chat=chat, empty_ok=False)
        return resp

    return checked


def _check_choices(resp: object, source: str, *, chat: bool, empty_ok: bool) -> None:
    """Raise ``BadResponse`` unless ``resp`` carries a ``choices`` list of usable choices."""
    choices: Any = getattr(resp, "choices", None)
    if not isinstance(choices, list) or not (choices or empty_ok):
        what = "no choices" if isinstance(choices, list) else "not a completion"
        raise BadResponse(f"{source} sent a response with {what}: {snippet(resp)}")
    for choice in choices:
        usable = getattr(choice, "message", None) is not None if chat else hasattr(choice, "text")
        if not usable:
            raise BadResponse(f"{source} sent a malformed choice: {snippet(resp)}")


def bad_json(exc: json.JSONDecodeError, source: str) -> BadResponse:
    """The retryable error for a body (or SSE event) that is not valid JSON."""
    return BadResponse(
        f"{source} sent a body that is not valid JSON ({exc.msg} at char {exc.pos}): "
        f"{snippet(exc.doc)}"
    )


def expect_json_object(text: str, source: str, keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """``text`` parsed as a JSON object holding at least one of ``keys`` (if any given)."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BadResponse(f"{source} sent a body that is not valid JSON ({exc}): "
                          f"{snippet(text)}") from None  # fmt: skip
    if not isinstance(data, dict) or (keys and not any(k in data for k in keys)):
        expected = f" with {' or '.join(keys)}" if keys else ""
        raise BadResponse(f"{source} sent {snippet(text)}, expected a JSON object{expected}")
    return data


def clean_text(text: str | None) -> str:
    """A server's text made storable and sendable: a lone UTF-16 surrogate (valid in JSON,
    not in UTF-8) becomes U+FFFD, and the enclosing trial is flagged. Without this the
    text fails at the SQLite write, or when a thinking trace is sent back as a prompt."""
    fixed, changed = storable(text or "")
    if changed:
        note_repaired()
    return fixed
