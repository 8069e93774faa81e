"""Import of a large inspect_ai log: time, peak memory, and whether memory stays flat.

Builds a zstd ``.eval`` of N samples from a real mockllm log made by inspect_ai (its
header and one real sample, repeated under new ids, written through inspect_ai's own
zstd zip writer), then imports it with ``overthink import inspect`` in a fresh process
per measurement and reads that process's peak RSS. The baseline is the same import at a
tenth of the size in the same run: with streaming, peak memory at 10x the samples should
stay about the same (ratio near 1), and time should grow about 10x.

Run: .venv/bin/python benchmarks/bench_import_inspect.py [N=100000] [--with-inspect-ai]
(``--with-inspect-ai`` also times the inspect_ai reader at the baseline size.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

# Peak RSS is this process's VmHWM (reset at exec; ru_maxrss would carry the parent's).
_CHILD = """
import re, sys, time
from pathlib import Path
from overthink.interop.inspect_import import import_inspect
t0 = time.perf_counter()
report = import_inspect([Path(sys.argv[1])], Path(sys.argv[2]), reader=sys.argv[3],
                        tokenizer="none")
elapsed = time.perf_counter() - t0
hwm = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)
print(report.added, elapsed, hwm)
"""


def build_log(template: Path, n: int, out: Path) -> Path:
    """A zstd .eval with ``n`` samples cloned from ``template``'s first one."""
    import inspect_ai._util.zipfile  # noqa: F401  # registers zstd in zipfile (Python < 3.14)
    from inspect_ai._util.zipfile import zipfile_compress_kwargs

    with zipfile.ZipFile(template) as src:
        names = src.namelist()
        first = next(n for n in names if n.startswith("samples/"))
        sample = json.loads(src.read(first))
        header_name = "header.json" if "header.json" in names else "_journal/start.json"
        header = json.loads(src.read(header_name))
    with zipfile.ZipFile(out, "w", **zipfile_compress_kwargs) as dst:
        dst.writestr("_journal/start.json", json.dumps(header))
        for i in range(n):
            sample["id"] = f"s{i:07d}"
            sample["uuid"] = f"u{i:07d}"
            sample["metadata"]["distractors"] = i % 4
            dst.writestr(f"samples/s{i:07d}_epoch_1.json", json.dumps(sample))
        dst.writestr("header.json", json.dumps(header))
    return out


def measure(log: Path, reader: str, workdir: Path) -> tuple[int, float, float]:
    """(records, seconds, peak RSS MiB) of one import in a fresh process."""
    run = workdir / f"run-{log.stem}-{reader}"
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(log), str(run), reader],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    added, seconds, rss_kib = out.stdout.split()
    return int(added), float(seconds), int(rss_kib) / 1024


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 100_000
    base_n = max(n // 10, 1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        from interop.make_inspect_logs import make_logs

        t0 = time.perf_counter()
        template = make_logs(work / "template")["zstd"]
        small = build_log(template, base_n, work / "small.eval")
        large = build_log(template, n, work / "large.eval")
        print(
            f"built logs in {time.perf_counter() - t0:.1f} s: {base_n:,} samples "
            f"({small.stat().st_size / 2**20:.1f} MiB), {n:,} samples "
            f"({large.stat().st_size / 2**20:.1f} MiB)"
        )
        rows = [("direct", base_n, *measure(small, "direct", work)[1:])]
        rows.append(("direct", n, *measure(large, "direct", work)[1:]))
        if "--with-inspect-ai" in sys.argv:
            rows.append(("inspect_ai", base_n, *measure(small, "inspect_ai", work)[1:]))
        print(f"{'reader':<11}{'samples':>10}{'seconds':>10}{'samples/s':>12}{'peak RSS':>12}")
        for reader, count, seconds, rss in rows:
            print(f"{reader:<11}{count:>10,}{seconds:>10.1f}{count / seconds:>12,.0f}"
                  f"{rss:>9.0f} MiB")  # fmt: skip
        (_, _, t_small, m_small), (_, _, t_large, m_large) = rows[0], rows[1]
        print(
            f"ratio {n:,} vs {base_n:,} samples: time x{t_large / t_small:.1f}, "
            f"peak memory x{m_large / m_small:.2f} (flat memory = near 1)"
        )


if __name__ == "__main__":
    main()
