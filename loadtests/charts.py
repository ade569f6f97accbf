"""Line charts of a load run, drawn by matplotlib (Agg: no display needed).

One place for how the report page and the web UI's Delivery tab draw a chart: axes with units,
ticks, gridlines, a legend; "no data yet" says so instead of an empty frame.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

Series = Sequence[tuple[float, float]]


def _figure(title: str, lines: dict[str, Series], y_label: str, x_label: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(8, 3.2), dpi=100)
    ax.set_title(title, fontsize=11, loc="left")
    drawn = False
    for label, points in lines.items():
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, label=label, linewidth=1.4, marker="." if len(xs) < 30 else None)
            drawn = True
    if drawn:
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        ax.set_ylim(bottom=0)
        ax.set_xlim(left=0)
    else:
        ax.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.grid(True, linestyle=":", linewidth=0.6, alpha=0.8)
    fig.tight_layout()
    return fig


def svg(title: str, lines: dict[str, Series], y_label: str, x_label: str = "time (s)") -> str:
    """The chart as an inline ``<svg>`` element (no script, no external reference)."""
    fig = _figure(title, lines, y_label, x_label)
    out = io.StringIO()
    fig.savefig(out, format="svg")
    plt.close(fig)
    text = out.getvalue()
    return text[text.index("<svg") :]


def png(title: str, lines: dict[str, Series], y_label: str, x_label: str = "time (s)") -> bytes:
    fig = _figure(title, lines, y_label, x_label)
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()
