"""``vllm/<model>``: a vLLM server (OpenAI-compatible, plus vLLM's own parameters).

Quirks of this provider, all kept here:

* a ``native`` budget is vLLM's ``thinking_token_budget`` (a hard cap on tokens inside the
  thinking segment, enforced by the server's reasoning parser);
* vLLM has no ``/apply-template``: the chat template is applied with ``/tokenize``
  (``messages`` + ``add_generation_prompt``) and the tokens turned back into text with
  ``/detokenize``;
* ``/tokenize`` counts with ``add_special_tokens: false`` and raw completions are sent with
  ``add_special_tokens: false`` too, because a rendered template already holds its BOS;
* the thinking markers are read off a rendered prompt: templates that open the thinking
  segment in the generation prompt (DeepSeek-R1 style) reveal their pair there;
* prompt caching is the server's automatic prefix caching, which cannot be switched off
  per request, so ``--deterministic`` only limits requests in flight to one.
"""

from __future__ import annotations

from typing import Any

from overthink.engines.base import Message
from overthink.engines.markers import KNOWN_MARKERS, ThinkMarkers, opens_thinking
from overthink.engines.openai_compat import OpenAICompatEngine

__all__ = ["VLLMEngine"]


class VLLMEngine(OpenAICompatEngine):
    """A vLLM server: chat, raw completions (so forced budgets) and ``thinking_token_budget``."""

    def __init__(self, name: str, model: str, base_url: str, **kwargs: Any) -> None:
        kwargs.setdefault("native_style", "vllm")
        super().__init__(name, model, base_url, can_complete=True, **kwargs)

    def _extra(self, extra: dict[str, Any] | None) -> dict[str, Any]:
        body = dict(extra or {})
        body.setdefault("add_special_tokens", False)
        return body

    async def render_chat(self, messages: list[Message]) -> str:
        """Apply the chat template through ``/tokenize`` and ``/detokenize``."""
        tokens = await self._post_root(
            "/tokenize",
            {"model": self.model, "messages": messages, "add_generation_prompt": True},
        )
        text = await self._post_root(
            "/detokenize", {"model": self.model, "tokens": tokens["tokens"]}
        )
        return str(text["prompt"])

    async def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        data = await self._post_root(
            "/tokenize", {"model": self.model, "prompt": text, "add_special_tokens": False}
        )
        return int(data["count"]) if "count" in data else len(data["tokens"])

    async def detect_markers(self) -> None:
        """Take the pair whose open marker ends a rendered generation prompt, if any."""
        if self._markers_fixed:
            return
        try:
            rendered = await self.render_chat([{"role": "user", "content": "1+1?"}])
        except Exception:  # detection is best effort; the defaults stay
            return
        for open_tag, close_tag in KNOWN_MARKERS:
            if opens_thinking(rendered, open_tag):
                self.set_markers(ThinkMarkers(open_tag, close_tag, "chat_template"))
                return
