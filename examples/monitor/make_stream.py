"""Write the example monitor stream (seeded, so the file is reproducible byte for byte).

    python examples/monitor/make_stream.py     # writes examples/monitor/stream.jsonl.gz
    overthink monitor replay examples/monitor/stream.jsonl.gz

Two segments of synthetic traffic, half of it in the randomised budget slice (a real
deployment would use ~5 %; the example is kept small). Harder requests think longer and
fail more in both segments, so the observational slope is negative everywhere. In segment
``math`` the causal effect of the high budget tier turns from 0 to −0.4 at event 3,000;
in ``chat`` it stays 0. One event in five gets its quality as a late label 50 lines on.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

from overthink.monitor import Label, event_to_json
from overthink.testing.traffic import step_effect, synthetic_events

N_EVENTS = 6000
CHANGE_AT = 3000
LABEL_DELAY = 50


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("stream.jsonl.gz")
    events = synthetic_events(
        N_EVENTS,
        seed=13,
        segments=("math", "chat"),
        effect={"math": step_effect(0.0, -0.4, CHANGE_AT)},
        slice_fraction=0.5,
    )
    late: dict[int, list[str]] = {}
    lines: list[str] = []
    for i, event in enumerate(events):
        if i % 5 == 4 and event.quality is not None:
            label = Label(request_id=event.request_id, quality=event.quality, source="verifier")
            late.setdefault(i + LABEL_DELAY, []).append(event_to_json(label))
            event = event.model_copy(update={"quality": None})
        lines.append(event_to_json(event))
        lines.extend(late.pop(i, []))
    for pending in late.values():
        lines.extend(pending)
    data = ("\n".join(lines) + "\n").encode()
    # mtime=0 keeps the gzip header (and so the file) identical across runs.
    out.write_bytes(gzip.compress(data, mtime=0) if out.suffix == ".gz" else data)
    print(f"wrote {len(lines)} lines to {out}")


if __name__ == "__main__":
    main()
