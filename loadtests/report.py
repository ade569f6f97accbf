"""The load report: thresholds judged, a JSON summary, and an HTML page with inline SVG plots.

Self-contained on purpose (no JavaScript, no CDN): the page is opened from CI artifacts, often
offline. Reads what the Locust run left behind: the master's raw summary (counters and
statistics) and Locust's ``_stats_history.csv`` (one row per metric per second).
"""

from __future__ import annotations

import csv
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taskchat.loadtests.delivery import CONNECTION, DELIVERY, FANOUT, PRESENCE, TYPING

# metrics that are observations, not requests the users made: not part of the error rate
OBSERVED = frozenset({DELIVERY, FANOUT, TYPING, PRESENCE, CONNECTION})


@dataclass(frozen=True)
class Thresholds:
    max_p99_delivery_ms: float | None = None
    max_loss: float | None = None  # fraction of (message, member) pairs
    max_error_rate: float | None = None  # fraction of requests (connect, acks, setup)


@dataclass(frozen=True)
class Verdict:
    name: str
    limit: float
    value: float | None
    passed: bool
    detail: str


def _entry(raw: dict[str, Any], name: str) -> dict[str, Any] | None:
    for entry in raw.get("entries", []):
        if entry["name"] == name:
            return dict(entry)
    return None


def figures(raw: dict[str, Any]) -> dict[str, Any]:
    """The numbers a capacity planner asks for first."""
    counters = raw.get("counters", {})
    delivered, lost = counters.get("delivered", 0), counters.get("lost", 0)
    requests = failures = 0
    for entry in raw.get("entries", []):
        if entry["name"] not in OBSERVED:
            requests += entry["requests"]
            failures += entry["failures"]
    disconnects = counters.get("disconnects", 0)
    delivery = _entry(raw, DELIVERY) or {}
    return {
        "delivery_p50_ms": delivery.get("median_ms"),
        "delivery_p95_ms": delivery.get("p95_ms"),
        "delivery_p99_ms": delivery.get("p99_ms"),
        "deliveries": delivery.get("requests", 0),
        "fanout_p99_ms": (_entry(raw, FANOUT) or {}).get("p99_ms"),
        "typing_p99_ms": (_entry(raw, TYPING) or {}).get("p99_ms"),
        "loss_rate": lost / (delivered + lost) if delivered + lost else 0.0,
        "requests": requests,
        "failed_requests": failures,
        "error_rate": (failures + disconnects) / requests if requests else 0.0,
    }


def judge(raw: dict[str, Any], limits: Thresholds) -> list[Verdict]:
    f = figures(raw)
    out: list[Verdict] = []
    if limits.max_p99_delivery_ms is not None:
        p99 = f["delivery_p99_ms"]
        if not f["deliveries"] or p99 is None:
            out.append(
                Verdict("p99 delivery (ms)", limits.max_p99_delivery_ms, None, False,
                        "no delivery was measured")
            )  # fmt: skip
        else:
            ok = p99 <= limits.max_p99_delivery_ms
            out.append(
                Verdict("p99 delivery (ms)", limits.max_p99_delivery_ms, p99, ok,
                        f"{p99:g} ms over {f['deliveries']} deliveries")
            )  # fmt: skip
    if limits.max_loss is not None:
        counters = raw.get("counters", {})
        ok = f["loss_rate"] <= limits.max_loss
        out.append(
            Verdict("loss rate", limits.max_loss, f["loss_rate"], ok,
                    f"{counters.get('lost', 0)} lost of "
                    f"{counters.get('delivered', 0) + counters.get('lost', 0)} owed")
        )  # fmt: skip
    if limits.max_error_rate is not None:
        ok = f["error_rate"] <= limits.max_error_rate
        out.append(
            Verdict("error rate", limits.max_error_rate, f["error_rate"], ok,
                    f"{f['failed_requests']} failed requests and "
                    f"{raw.get('counters', {}).get('disconnects', 0)} disconnects "
                    f"in {f['requests']} requests")
        )  # fmt: skip
    return out


def read_history(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "", "N/A") else None
    except ValueError:
        return None


def series(history: list[dict[str, str]], name: str, column: str) -> list[tuple[float, float]]:
    """(seconds since the first row, value) of one metric's column."""
    if not history:
        return []
    t0 = _num(history[0].get("Timestamp")) or 0.0
    out = []
    for row in history:
        if row.get("Name") != name:
            continue
        t, value = _num(row.get("Timestamp")), _num(row.get(column))
        if t is not None and value is not None:
            out.append((t - t0, value))
    return out


COLOURS = ("#1f77b4", "#ff7f0e", "#d62728", "#2ca02c", "#9467bd")


def svg_chart(title: str, lines: dict[str, list[tuple[float, float]]], unit: str) -> str:
    """A line chart as inline SVG; empty series are left out, no data says so."""
    width, height, left, bottom, top, right = 640, 260, 60, 36, 28, 140
    points = [p for values in lines.values() for p in values]
    head = f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
    head += f'role="img" aria-label="{html.escape(title)}">'
    parts = [head, f'<text x="{left}" y="18" font-size="14">{html.escape(title)}</text>']
    if not points:
        parts.append(f'<text x="{left}" y="{height // 2}" font-size="12">no data</text></svg>')
        return "".join(parts)
    x_max = max(p[0] for p in points) or 1.0
    y_max = max(p[1] for p in points) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def xy(x: float, y: float) -> str:
        return f"{left + x / x_max * plot_w:.1f},{top + plot_h - y / y_max * plot_h:.1f}"

    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>'
    )
    for i in range(5):
        y = y_max * i / 4
        py = top + plot_h - plot_h * i / 4
        parts.append(
            f'<text x="{left - 4}" y="{py + 4:.1f}" font-size="10" text-anchor="end">{y:.3g}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w}" y="{height - 8}" font-size="10" text-anchor="end">'
        f"{x_max:.0f} s</text>"
        f'<text x="{left}" y="{height - 8}" font-size="10">0 s ({html.escape(unit)})</text>'
    )
    for i, (label, values) in enumerate(lines.items()):
        if not values:
            continue
        colour = COLOURS[i % len(COLOURS)]
        path = " ".join(xy(x, y) for x, y in values)
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{path}"/>'
        )
        ly = top + 14 * i + 10
        parts.append(
            f'<text x="{left + plot_w + 8}" y="{ly}" font-size="11" fill="{colour}">'
            f"{html.escape(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: list[list[Any]], header: list[str]) -> str:
    out = ["<table><tr>", *(f"<th>{html.escape(h)}</th>" for h in header), "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def render_html(summary: dict[str, Any], history: list[dict[str, str]]) -> str:
    raw = summary["run"]
    verdicts = summary["verdicts"]
    status = "PASS" if summary["passed"] else "FAIL"
    latency = {
        f"{label}": series(history, DELIVERY, col)
        for label, col in (("p50", "50%"), ("p95", "95%"), ("p99", "99%"))
    }
    fanout = {"p99": series(history, FANOUT, "99%")}
    throughput = {
        "deliveries/s": series(history, DELIVERY, "Requests/s"),
        "sends acked/s": series(history, "send_message ack", "Requests/s"),
        "all requests/s": series(history, "Aggregated", "Requests/s"),
    }
    users = {"users": series(history, "Aggregated", "User Count")}
    counters = raw.get("counters", {})
    counter_rows = [[k, v] for k, v in counters.items() if k != "errors_by_code"]
    counter_rows += [[f"error event {k}", v] for k, v in counters.get("errors_by_code", {}).items()]
    entry_rows = [
        [e["name"], e["requests"], e["failures"], e["median_ms"], e["p95_ms"], e["p99_ms"],
         round(e["max_ms"] or 0, 1)]
        for e in raw.get("entries", [])
    ]  # fmt: skip
    error_rows = [[e["name"], e["error"], e["occurrences"]] for e in raw.get("errors", [])]
    verdict_rows = [
        [v["name"], v["limit"], v["value"], "pass" if v["passed"] else "FAIL", v["detail"]]
        for v in verdicts
    ]
    style = (
        "body{font-family:sans-serif;margin:2em;max-width:60em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:3px 8px;text-align:left}.PASS{color:#2a7d2a}.FAIL{color:#b00}"
    )
    return "".join(
        [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>taskchat load: {html.escape(raw.get('scenario', ''))}</title>",
            f"<style>{style}</style></head><body>",
            f"<h1>Load run: {html.escape(raw.get('scenario', ''))} "
            f"<span class='{status}'>{status}</span></h1>",
            f"<p>Target {html.escape(str(raw.get('host')))}, {raw.get('users')} users. "
            "Delivery is the time from a send to each member's <code>new_message</code>; "
            "fan-out, to the last member's.</p>",
            "<h2>Thresholds</h2>",
            _table(verdict_rows, ["threshold", "limit", "value", "verdict", "detail"])
            if verdict_rows
            else "<p>No thresholds were set.</p>",
            "<h2>Delivery latency over time</h2>",
            svg_chart("delivery latency percentiles", latency, "ms"),
            svg_chart("fan-out completion p99", fanout, "ms"),
            "<h2>Throughput</h2>",
            svg_chart("throughput", throughput, "per second"),
            svg_chart("users", users, "users"),
            "<h2>Counters</h2>",
            _table(counter_rows, ["counter", "value"]),
            "<h2>Statistics</h2>",
            _table(
                entry_rows, ["metric", "count", "failures", "p50 ms", "p95 ms", "p99 ms", "max ms"]
            ),
            "<h2>Failures</h2>",
            _table(error_rows, ["metric", "failure", "occurrences"])
            if error_rows
            else "<p>None.</p>",
            "<p>Locust's own report: <a href='locust.html'>locust.html</a>; "
            "CSV: <code>locust_stats.csv</code>, <code>locust_stats_history.csv</code>.</p>",
            "</body></html>",
        ]
    )


def write(report_dir: Path, raw: dict[str, Any], limits: Thresholds) -> dict[str, Any]:
    """Judge, then write ``summary.json`` and ``report.html``; returns the summary."""
    verdicts = judge(raw, limits)
    summary = {
        "passed": all(v.passed for v in verdicts),
        "verdicts": [v.__dict__ for v in verdicts],
        "figures": figures(raw),
        "counters": raw.get("counters", {}),
        "run": raw,
    }
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    history = read_history(report_dir / "locust_stats_history.csv")
    (report_dir / "report.html").write_text(render_html(summary, history), encoding="utf-8")
    return summary
