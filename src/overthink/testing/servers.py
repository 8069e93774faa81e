"""Run an ASGI app (the proxy, or a test upstream) with uvicorn on a loopback socket, in a
background thread: for tests and benchmarks."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import uvicorn

__all__ = ["BackgroundServer", "serve_in_thread"]


@dataclass
class BackgroundServer:
    """A uvicorn server running in a daemon thread; ``stop()`` shuts it down."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout_s)


def serve_in_thread(app: Any, host: str = "127.0.0.1", timeout_s: float = 10.0) -> BackgroundServer:
    """Serve ``app`` on a free port of ``host`` in a background thread (tests, benchmarks)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", lifespan="on", backlog=1024, timeout_keep_alive=75
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True,
        name="overthink-uvicorn",
    )  # fmt: skip
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.01)
    return BackgroundServer(f"http://{host}:{port}", server, thread)
