"""Turn a matplotlib Figure into files under ``plots/`` and an inline image for the page."""

from __future__ import annotations

import base64
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

__all__ = ["RenderedFigure", "atomic_write_bytes", "render_figure"]

# Larger SVGs (a dense scatter, say) are inlined as PNG instead, so the page stays light.
_INLINE_SVG_LIMIT = 400_000
_DPI = 150


@dataclass(frozen=True)
class RenderedFigure:
    """One figure written to disk and ready to inline."""

    name: str
    """File stem under ``plots/`` (``scaling_curves``)."""
    png: Path
    svg: Path
    data_uri: str
    """``data:image/svg+xml;base64,...`` or ``data:image/png;base64,...``."""
    alt: str
    """Text alternative for the ``<img>``."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and a rename, so readers never see
    a half-written file even if the process dies mid-write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        # mkstemp creates 0600; a report is meant to be read by whoever opens the folder.
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save(fig: Figure, fmt: str) -> bytes:
    buf = io.BytesIO()
    # rc_context restores the caller's rcParams afterwards. Glyphs are drawn as paths so the
    # SVG looks the same in a browser without matplotlib's font; a fixed hash salt and no
    # date make the output reproducible.
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "overthink"}):
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        fig.savefig(buf, format=fmt, dpi=_DPI, metadata=metadata, facecolor="white")
    return buf.getvalue()


def render_figure(fig: Figure, plots_dir: Path, name: str, alt: str) -> RenderedFigure:
    """Save ``fig`` as ``plots_dir/name.png`` and ``.svg`` and build its inline data URI."""
    png = _save(fig, "png")
    # The first save settled the layout; freezing it spares the second save from running
    # constrained layout (which re-measures every label) again.
    fig.set_layout_engine("none")
    svg = _save(fig, "svg")
    png_path = plots_dir / f"{name}.png"
    svg_path = plots_dir / f"{name}.svg"
    atomic_write_bytes(png_path, png)
    atomic_write_bytes(svg_path, svg)
    if len(svg) <= _INLINE_SVG_LIMIT:
        uri = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
    else:
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return RenderedFigure(name=name, png=png_path, svg=svg_path, data_uri=uri, alt=alt)
