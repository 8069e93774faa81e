"""Test helpers for code built on overthink, and for overthink's own tests.

``overthink.testing`` (this module) holds the scripted fake engine and a one-call runner
for tests of your own tasks (see docs/testing.md); its submodules hold data makers:

* :mod:`overthink.testing.synthetic` — analysis frames with a planted, known effect;
* :mod:`overthink.testing.report_runs` — whole synthetic runs for the HTML report;
* :mod:`overthink.testing.traffic` — seeded synthetic monitor traffic;
* :mod:`overthink.testing.browser` — a headless-Chromium driver for the report page;
* :mod:`overthink.testing.servers` — an ASGI app (the proxy, a fake upstream) on a
  loopback port in a background thread;
* :mod:`overthink.testing.batch` — the request lines the batch executor wrote.

Importing this module loads neither pandas nor an engine server.
"""

from overthink.testing.fakes import (
    FakeEngine,
    FakeEngineFactory,
    FakeReply,
    FakeRequest,
    Responder,
    UnreachableEngineFactory,
)
from overthink.testing.runs import FakeRun, run_experiment

__all__ = [
    "FakeEngine",
    "FakeEngineFactory",
    "FakeReply",
    "FakeRequest",
    "FakeRun",
    "Responder",
    "UnreachableEngineFactory",
    "run_experiment",
]
