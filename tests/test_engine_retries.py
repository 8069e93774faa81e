"""A server that drops connections: retried with backoff, then recorded — never raised.

The flaky server is a local HTTP proxy in front of the real embedded llama.cpp server that
kills the first N POSTs (connection closed without a response) before forwarding.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from helpers import run_experiment
from overthink.engines.embedded import EmbeddedServer

pytestmark = pytest.mark.engine


class FlakyProxy:
    """Drops the first ``fail_first`` POSTs (or all, with -1), forwards the rest."""

    def __init__(self, upstream: str, fail_first: int) -> None:
        self.upstream = upstream
        self.fail_first = fail_first
        self.posts = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status":"ok"}')

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with proxy.lock:
                    proxy.posts += 1
                    drop = proxy.fail_first < 0 or proxy.posts <= proxy.fail_first
                if drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                req = urllib.request.Request(
                    proxy.upstream + self.path,
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
                with urllib.request.urlopen(req, timeout=120) as resp:
                    data = resp.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def flaky(embedded_server: EmbeddedServer) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(embedded_server.address, fail_first=2)
    yield proxy
    proxy.close()


@pytest.fixture
def dead(embedded_server: EmbeddedServer) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(embedded_server.address, fail_first=-1)
    yield proxy
    proxy.close()


CONFIG = {
    "tasks": [{"name": "misleading_math", "knobs": {"distractors": [0]}}],
    "samples": 1,
    "budgets": "none",
    "concurrency": 1,
}


def test_dropped_connections_are_retried(flaky: FlakyProxy, tmp_path: Path) -> None:
    _, stats, records = run_experiment(
        tmp_path / "r", models=["openai-api/smollm2"], base_url=flaky.url, **CONFIG
    )
    assert stats.errors == 0
    (record,) = records
    assert record.error is None
    assert record.retries == 2
    assert record.answer_tokens > 0


def test_a_dead_server_becomes_error_records(dead: FlakyProxy, tmp_path: Path) -> None:
    _, stats, records = run_experiment(
        tmp_path / "r",
        models=["openai-api/smollm2"],
        base_url=dead.url,
        max_retries=2,
        **{**CONFIG, "samples": 2},
    )
    assert stats.errors == 2 and len(records) == 2
    for record in records:
        assert record.error is not None and "APIConnectionError" in record.error
        assert record.retries == 2
        assert record.score is None
    assert dead.posts == 6  # 2 trials × (1 try + 2 retries)
