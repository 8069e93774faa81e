"""Open a report in headless Chromium and ask it what a person would see.

Used by the browser test and the benchmark: console errors, whether every image decoded,
whether planted script ran, how long the page took to become usable, and a screenshot. It
speaks the DevTools protocol over a WebSocket written with the standard library, so it needs
no package beyond Debian's ``chromium``.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BrowserError", "Page", "chromium_path", "headless_chromium"]

INSTALL_HINT = "install a browser with `apt-get install -y chromium` (Debian)"
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_FLAGS = (
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--mute-audio",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)


class BrowserError(RuntimeError):
    """Chromium could not be started or stopped answering."""


def chromium_path() -> str | None:
    """The Chromium binary to use: ``$OVERTHINK_CHROMIUM``, ``/usr/bin/chromium``, or PATH."""
    explicit = os.environ.get("OVERTHINK_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class _WebSocket:
    """The client half of RFC 6455, just enough for DevTools: text frames, ping, close."""

    def __init__(self, port: int, path: str, timeout: float) -> None:
        self._sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self._sock.sendall(request.encode("ascii"))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self._sock.recv(4096)
            if not chunk:
                raise BrowserError("DevTools closed the connection during the handshake")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status + b" ":
            raise BrowserError(f"DevTools refused the WebSocket: {status.decode(errors='replace')}")
        self._buffer = head.split(b"\r\n\r\n", 1)[1]

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self._sock.recv(max(65536, n - len(self._buffer)))
            if not chunk:
                raise BrowserError("DevTools connection closed")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytearray([0x80 | opcode])
        length = len(payload)
        if length < 126:
            header.append(0x80 | length)
        elif length < 1 << 16:
            header.append(0x80 | 126)
            header += struct.pack("!H", length)
        else:
            header.append(0x80 | 127)
            header += struct.pack("!Q", length)
        # Clients must mask what they send (RFC 6455 §5.3).
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self._sock.sendall(bytes(header) + mask + masked)

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode("utf-8"))

    def recv(self) -> str:
        parts: list[bytes] = []
        while True:
            b0, b1 = self._read(2)
            opcode, length = b0 & 0x0F, b1 & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._read(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._read(8))
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(length)
            if mask is not None:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:  # ping
                self._send_frame(0xA, payload)
                continue
            if opcode == 0x8:
                raise BrowserError("DevTools closed the connection")
            if opcode in (0x0, 0x1, 0x2):
                parts.append(payload)
                if b0 & 0x80:
                    return b"".join(parts).decode("utf-8")

    def settimeout(self, seconds: float) -> None:
        self._sock.settimeout(seconds)

    def close(self) -> None:
        self._sock.close()


@dataclass
class Page:
    """One tab, driven over a DevTools session."""

    _ws: _WebSocket
    _session: str
    console_errors: list[str] = field(default_factory=list)
    """Uncaught exceptions, ``console.error`` calls and browser-logged errors (failed loads,
    Content-Security-Policy violations), in arrival order."""
    _next_id: int = 0
    load_s: float = 0.0
    """Seconds from navigation until the ready condition held."""

    def _collect(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        params = message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.console_errors.append(f"exception: {text}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = [str(a.get("value", a.get("description", ""))) for a in params.get("args", [])]
            self.console_errors.append("console.error: " + " ".join(args))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            self.console_errors.append(f"{entry.get('source', 'log')}: {entry.get('text', '')}")

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0) -> Any:
        """Send one DevTools command and return its result (events seen meanwhile are kept)."""
        self._next_id += 1
        ident = self._next_id
        self._ws.send(
            json.dumps(
                {"id": ident, "method": method, "params": params or {}, "sessionId": self._session}
            )
        )
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"no answer to {method} within {timeout:.0f} s")
            self._ws.settimeout(remaining)
            try:
                message = json.loads(self._ws.recv())
            except TimeoutError:
                raise BrowserError(f"no answer to {method} within {timeout:.0f} s") from None
            if message.get("id") == ident:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            if message.get("sessionId") == self._session:
                self._collect(message)

    def evaluate(self, expression: str, timeout: float = 30.0) -> Any:
        """Value of a JavaScript expression in the page (promises are awaited)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout,
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"evaluate failed: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> None:
        """Poll until ``expression`` is truthy."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(f"Boolean({expression})"):
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {expression}")
            time.sleep(0.05)

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        """Save a PNG of the viewport (or the whole page)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": min(size["height"], 16000),
                "scale": 1,
            }
            params["captureBeyondViewport"] = True
        data = self.send("Page.captureScreenshot", params, timeout=60.0)["data"]
        path.write_bytes(base64.b64decode(data))
        return path


def _devtools_port(profile: Path, proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, str]:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker.is_file():
            lines = marker.read_text().split()
            if len(lines) >= 2:
                return int(lines[0]), lines[1]
        if proc.poll() is not None:
            raise BrowserError(f"chromium exited with code {proc.returncode} before it was ready")
        time.sleep(0.05)
    raise BrowserError(f"chromium did not open its DevTools port within {timeout:.0f} s")


@contextmanager
def headless_chromium(
    url: str,
    *,
    ready: str = "document.readyState === 'complete'",
    width: int = 1280,
    height: int = 900,
    binary: str | None = None,
    timeout: float = 30.0,
) -> Iterator[Page]:
    """Start headless Chromium, open ``url``, wait until ``ready`` holds, yield the Page.

    The browser runs in a throwaway profile and is stopped on exit. Raises
    :class:`BrowserError` when no browser is installed (with how to install one).
    """
    exe = binary or chromium_path()
    if exe is None:
        raise BrowserError(f"no Chromium found: {INSTALL_HINT}")
    # Chromium's helper processes (crashpad, zygote) can still write into the profile for a
    # moment after the browser exits; a leftover temp folder beats failing the caller.
    with tempfile.TemporaryDirectory(
        prefix="overthink-chromium-", ignore_cleanup_errors=True
    ) as tmp:
        profile = Path(tmp)
        proc = subprocess.Popen(
            [exe, *_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        ws: _WebSocket | None = None
        try:
            port, path = _devtools_port(profile, proc, timeout)
            ws = _WebSocket(port, path, timeout)
            ws.send(
                json.dumps(
                    {"id": 1, "method": "Target.createTarget", "params": {"url": "about:blank"}}
                )
            )
            target = _reply(ws, 1, timeout)["targetId"]
            ws.send(
                json.dumps(
                    {
                        "id": 2,
                        "method": "Target.attachToTarget",
                        "params": {"targetId": target, "flatten": True},
                    }
                )
            )
            session = _reply(ws, 2, timeout)["sessionId"]
            page = Page(ws, session, _next_id=10)
            for domain in ("Page", "Runtime", "Log"):
                page.send(f"{domain}.enable", timeout=timeout)
            page.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            )
            start = time.monotonic()
            page.send("Page.navigate", {"url": url}, timeout=timeout)
            page.wait_for(ready, timeout=timeout)
            page.load_s = time.monotonic() - start
            yield page
        finally:
            if ws is not None:
                ws.close()
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _reply(ws: _WebSocket, ident: int, timeout: float) -> dict[str, Any]:
    ws.settimeout(timeout)
    while True:
        message = json.loads(ws.recv())
        if message.get("id") == ident:
            if "error" in message:
                raise BrowserError(str(message["error"]))
            result: dict[str, Any] = message.get("result", {})
            return result
