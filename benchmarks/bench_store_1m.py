"""Benchmark: ``analyze`` and ``export`` on a real 1M-record store file (time, peak memory).

Builds (once, cached) a ``store.sqlite`` written through the real ``Store`` schema with
1,000,320 records whose JSON carries realistic text (a ~300-character prompt, ~600
characters of reasoning, a short response), then runs each step in its own subprocess so
each peak RSS is its own:

* ``load-old``: the frame as before (every row's JSON parsed in Python, text included) —
  the baseline, measured in the same run;
* ``load``: the frame as ``analyze`` now loads it (``load_run(text=False)``);
* ``analyze``: the full ``analyze`` on the store file (load + every table, 1,000 resamples);
* ``export-old``: the old export (every row held in a list, then written) — baseline;
* ``export``: ``overthink export --format jsonl`` streamed to /dev/null.

Run: ``.venv/bin/python benchmarks/bench_store_1m.py [--store PATH] [--questions N]``.
Targets: analyze < 10 s and < 2 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

TARGET_SECONDS = 10.0
TARGET_BYTES = 2 * 1024**3
DEFAULT_STORE = Path("/tmp/overthink-bench-1m/store.sqlite")


def _plain(value: object) -> object:
    """A JSON value as the store writes it: Python scalars, NaN as null (like pydantic)."""
    item = getattr(value, "item", None)
    if callable(item):
        value = item()
    if isinstance(value, float) and value != value:
        return None
    return value


def build(path: Path, questions: int) -> None:
    """Write the synthetic records into a real store (skipped when the file exists)."""
    import sqlite3

    from overthink.experiment.store import Store
    from overthink.testing.synthetic import synthetic_frame

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    df = synthetic_frame(
        tasks=[f"task{i}" for i in range(10)], models=("qwen3-8b",),
        budgets=(256, 512, 1024, 2048, 4096), natural=True, levels=(0, 1, 3, 5),
        n_questions=questions, n_samples=8, slope=-0.02, interaction=-0.01, verifier=True,
        parse_failure_rate=0.01, seed=0,
    )  # fmt: skip
    Store(path).close()  # the real schema
    prompt = "How many apples does Ann have? " * 10
    reasoning = "Let me think about the distractors one at a time. " * 12
    meta_cols = [c for c in df.columns if c.startswith("meta.")]
    keep = [c for c in df.columns if c not in meta_cols and c not in (
        "question", "failed", "parse_failure", "value", "valid", "total_tokens")]  # fmt: skip
    db = sqlite3.connect(path)
    batch: list[tuple[object, ...]] = []
    for i, row in enumerate(df[keep + meta_cols].itertuples(index=False, name=None)):
        rec = {k: _plain(v) for k, v in zip(keep + meta_cols, row, strict=True)}
        meta = {k[5:]: v for k in meta_cols if (v := rec.pop(k)) is not None}
        rec.update(meta=meta, prompt=prompt, reasoning=reasoning, response="Final answer: 2",
                   resolved={"budget": "forced", "max_tokens": 4096, "seed": i % 8})  # fmt: skip
        rec["trial_id"] = f"t{i:08d}"
        rec["created_at"] = float(i)
        data = json.dumps(rec, allow_nan=False)
        batch.append((rec["trial_id"], rec["run"], rec["task"], rec["model"],
                      rec["budget_mode"], rec["budget_tokens"], rec["strategy"], rec["score"],
                      rec["error"], rec["created_at"], data))  # fmt: skip
        if len(batch) == 50_000:
            db.executemany("INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?)", batch)
            db.commit()
            batch.clear()
    db.executemany("INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?)", batch)
    db.commit()
    db.close()


def step(name: str, run_dir: Path) -> None:
    """Run one step in this process and print a JSON line: seconds, peak RSS, rows."""
    t0 = time.perf_counter()
    rows = 0
    if name == "load-old":
        from overthink.analysis.frame import records_frame
        from overthink.experiment.store import Store

        with Store.of_run(run_dir) as store:
            rows = len(records_frame(store.raw_records()))
    elif name == "load":
        from overthink.analysis.frame import load_run

        rows = len(load_run(run_dir, text=False))
    elif name == "analyze":
        from overthink.analysis import analyze

        result = analyze(run_dir, n_boot=1000, cost="tokens", seed=0)
        rows = len(result.curves)
    elif name == "export-old":
        from overthink.cli.export import PUBLIC_FIELDS
        from overthink.experiment.store import Store

        with Store.of_run(run_dir) as store:
            held = [{f: raw.get(f) for f in PUBLIC_FIELDS} for raw in store.raw_records()]
        with open(os.devnull, "w", encoding="utf-8") as sink:
            sink.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in held))
        rows = len(held)
    elif name == "export":
        from overthink.cli.export import _fields, _write
        from overthink.experiment.store import Store

        fields = _fields(False)
        with Store.of_run(run_dir) as store, open(os.devnull, "w", encoding="utf-8") as sink:
            rows = _write(sink, ({f: r.get(f) for f in fields} for r in store.raw_records()),
                          "jsonl", fields)  # fmt: skip
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"step": name, "seconds": seconds, "peak_bytes": peak, "rows": rows}))


def main() -> None:
    """Build the store if needed, then time every step in a fresh subprocess."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=DEFAULT_STORE)
    parser.add_argument("--questions", type=int, default=521, help="questions per level")
    parser.add_argument("--steps", default="load-old,load,analyze,export-old,export")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        step(args.step, args.store.parent)
        return
    t0 = time.perf_counter()
    build(args.store, args.questions)
    size = args.store.stat().st_size
    print(
        f"store: {args.store} ({size / 1024**3:.2f} GB; ready in {time.perf_counter() - t0:.0f} s)"
    )
    results = {}
    for name in args.steps.split(","):
        proc = subprocess.run(
            [sys.executable, __file__, "--store", str(args.store), "--step", name],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            print(f"{name}: failed\n{proc.stderr[-2000:]}")
            continue
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        results[name] = out
        print(f"{name:>10}: {out['seconds']:6.1f} s  peak {out['peak_bytes'] / 1024**3:5.2f} GB"
              f"  ({out['rows']:,} rows)")  # fmt: skip
    for new, old in (("load", "load-old"), ("export", "export-old")):
        if new in results and old in results:
            a, b = results[new], results[old]
            print(f"{new} vs {old}: {b['seconds'] / a['seconds']:.1f}x faster, "
                  f"{b['peak_bytes'] / a['peak_bytes']:.1f}x less peak memory")  # fmt: skip
    if "analyze" in results:
        r = results["analyze"]
        ok = r["seconds"] < TARGET_SECONDS and r["peak_bytes"] < TARGET_BYTES
        print(f"analyze target (< {TARGET_SECONDS:.0f} s, < 2 GB): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
