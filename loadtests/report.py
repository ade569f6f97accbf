"""The load report: the run judged, a JSON summary, CSVs, and an HTML page with charts.

Self-contained on purpose (inline SVG drawn by matplotlib, no JavaScript, no CDN): the page is
opened from CI artifacts, often offline. Reads the master's raw summary (counters, statistics and
the samples taken every 2 s during the run).

The verdict: exit 2 when the run did not measure anything (no user connected, or nothing was
delivered), with the cause; 1 when a threshold failed, or, without thresholds, when a request
failed (Locust's own default); 0 otherwise.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from taskchat.loadtests import charts
from taskchat.loadtests.delivery import (
    CONNECT,
    CONNECTION,
    DELIVERY,
    FANOUT,
    PRESENCE,
    TYPING,
    Counters,
)
from taskchat.loadtests.live import Sample, counter_rows, to_csv

# metrics that are observations, not requests the users made: not part of the error rate
OBSERVED = frozenset({DELIVERY, FANOUT, TYPING, PRESENCE, CONNECTION})
_UNREACHABLE = re.compile(
    r"Errno|Connection refused|Max retries|timed out|Name or service|unreachable|resolve",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"\b40[13]\b|AUTH_|refused:|Unauthorized|Forbidden|token", re.IGNORECASE)


@dataclass(frozen=True)
class Thresholds:
    max_p99_delivery_ms: float | None = None
    max_loss: float | None = None  # fraction of (message, member) pairs
    max_error_rate: float | None = None  # fraction of requests (connect, acks)

    @property
    def any(self) -> bool:
        return any(v is not None for v in self.__dict__.values())


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
    """The numbers a capacity planner asks for first. A rate with nothing to divide by is None,
    not 0."""
    counters = raw.get("counters", {})
    delivered, lost = counters.get("delivered", 0), counters.get("lost", 0)
    requests = failures = 0
    for entry in raw.get("entries", []):
        if entry["name"] not in OBSERVED:
            # a failure logged without a request (setup) still counts as one attempt
            requests += max(entry["requests"], entry["failures"])
            failures += entry["failures"]
    disconnects = counters.get("disconnects", 0)
    delivery = _entry(raw, DELIVERY) or {}
    connect = _entry(raw, CONNECT) or {}
    return {
        "connected": connect.get("requests", 0) - connect.get("failures", 0),
        "delivery_p50_ms": delivery.get("median_ms"),
        "delivery_p95_ms": delivery.get("p95_ms"),
        "delivery_p99_ms": delivery.get("p99_ms"),
        "deliveries": delivery.get("requests", 0),
        "fanout_p99_ms": (_entry(raw, FANOUT) or {}).get("p99_ms"),
        "typing_p99_ms": (_entry(raw, TYPING) or {}).get("p99_ms"),
        "loss_rate": lost / (delivered + lost) if delivered + lost else None,
        "requests": requests,
        "failed_requests": failures,
        "error_rate": (failures + disconnects) / requests if requests else None,
    }


def no_run_cause(raw: dict[str, Any]) -> str | None:
    """Why the run measured nothing, or None when it did."""
    f = figures(raw)
    if f["connected"] and f["deliveries"]:
        return None
    errors = raw.get("errors", [])
    setup = [e for e in errors if e.get("type") == "setup"]
    connect = [e for e in errors if e.get("name") == CONNECT]
    for e in setup + connect:
        text = str(e.get("error", ""))
        if _UNREACHABLE.search(text):
            return f"the server is unreachable ({text})"
        if _TOKEN.search(text):
            return f"the server refused the token: is the JWT secret the server's? ({text})"
    if setup:
        return f"setup failed ({setup[0].get('error')})"
    if not f["connected"]:
        if connect:
            return f"no user connected ({connect[0].get('error')})"
        return "no user connected: no user was started"
    sends = (_entry(raw, "send_message ack") or {}).get("requests", 0)
    return f"nothing was delivered ({f['connected']} connections, {sends} sends)"


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
    counters = raw.get("counters", {})
    if limits.max_loss is not None:
        owed = counters.get("delivered", 0) + counters.get("lost", 0)
        rate = f["loss_rate"]
        out.append(
            Verdict("loss rate", limits.max_loss, rate,
                    rate is not None and rate <= limits.max_loss,
                    f"{counters.get('lost', 0)} lost of {owed} owed" if owed
                    else "nothing was owed: no rate to judge")
        )  # fmt: skip
    if limits.max_error_rate is not None:
        rate = f["error_rate"]
        out.append(
            Verdict("error rate", limits.max_error_rate, rate,
                    rate is not None and rate <= limits.max_error_rate,
                    f"{f['failed_requests']} failed requests and "
                    f"{counters.get('disconnects', 0)} disconnects in {f['requests']} requests"
                    if f["requests"] else "no request was made: no rate to judge")
        )  # fmt: skip
    if not limits.any:
        failed = f["failed_requests"]
        out.append(
            Verdict("failed requests (no thresholds: none allowed)", 0, failed, failed == 0,
                    f"{failed} of {f['requests']} requests failed")
        )  # fmt: skip
    return out


# -- the page ---------------------------------------------------------------------------------


def _samples(raw: dict[str, Any]) -> list[Sample]:
    return [Sample(**row) for row in raw.get("history", [])]


def _line(samples: list[Sample], field: str) -> list[tuple[float, float]]:
    return [(s.elapsed_s, v) for s in samples if (v := getattr(s, field)) is not None]


def _table(rows: list[list[Any]], header: list[str]) -> str:
    out = ["<table><tr>", *(f"<th>{html.escape(h)}</th>" for h in header), "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _when(ts: Any) -> str:
    try:
        return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError):
        return "?"


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}{unit}" if abs(value) < 1 else f"{value:.1f}".removesuffix(".0") + unit
    return f"{value}{unit}"


def render_html(summary: dict[str, Any]) -> str:
    raw, f = summary["run"], summary["figures"]
    counters = raw.get("counters", {})
    status = {0: "PASS", 1: "FAIL", 2: "NO RUN"}[summary["status"]]
    samples = _samples(raw)
    latency = charts.svg(
        "Delivery latency (percentiles of the last 10 s)",
        {
            "delivery p50": _line(samples, "delivery_p50_ms"),
            "delivery p95": _line(samples, "delivery_p95_ms"),
            "delivery p99": _line(samples, "delivery_p99_ms"),
            "fan-out p99": _line(samples, "fanout_p99_ms"),
        },
        "latency (ms)",
    )
    throughput = charts.svg(
        "Throughput",
        {
            "deliveries/s": _line(samples, "deliveries_per_s"),
            "sends/s": _line(samples, "sends_per_s"),
        },
        "per second",
    )
    users = charts.svg("Users", {"users": _line(samples, "users")}, "users")
    duration = float(raw.get("ended_at", 0) or 0) - float(raw.get("started_at", 0) or 0)
    params = raw.get("parameters", {})
    param_text = "; ".join(
        f"{cls}: " + ", ".join(f"{k} {v}" for k, v in p.items()) for cls, p in params.items()
    )
    settings = ", ".join(f"{k} {v}" for k, v in raw.get("settings", {}).items())
    headline = [
        ["users (peak)", raw.get("users")],
        ["connected", f["connected"]],
        ["delivery p50 / p95 / p99", f"{_num(f['delivery_p50_ms'])} / "
         f"{_num(f['delivery_p95_ms'])} / {_num(f['delivery_p99_ms'])} ms"],
        ["fan-out p99", _num(f["fanout_p99_ms"], " ms")],
        ["deliveries", f["deliveries"]],
        ["lost / duplicated / out of order", f"{counters.get('lost', 0)} / "
         f"{counters.get('duplicated', 0)} / {counters.get('reordered', 0)}"],
        ["loss rate", _num(f["loss_rate"])],
        ["error rate", _num(f["error_rate"])],
    ]  # fmt: skip
    counter_table = [
        [r["name"], r["value"], r["meaning"]]
        for r in counter_rows(Counters.total([counters]), None)
    ]
    entry_rows = [
        [e["name"], e["requests"], e["failures"], *(_num(e[k]) for k in ("median_ms", "p95_ms",
         "p99_ms", "max_ms"))]
        for e in raw.get("entries", [])
    ]  # fmt: skip
    error_rows = [[e["name"], e["error"], e["occurrences"]] for e in raw.get("errors", [])]
    verdict_rows = [
        [v["name"], v["limit"], _num(v["value"]), "pass" if v["passed"] else "FAIL", v["detail"]]
        for v in summary["verdicts"]
    ]
    style = (
        "body{font-family:system-ui,sans-serif;margin:2em;max-width:64em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
        "padding:3px 8px;text-align:left}.PASS{color:#2a7d2a}.FAIL,.NO.RUN{color:#b00}"
        "svg{max-width:100%;height:auto}"
    )
    cause = summary.get("cause")
    return "".join(
        [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>taskchat load: {html.escape(raw.get('scenario', ''))}</title>",
            f"<style>{style}</style></head><body>",
            f"<h1>Load run: {html.escape(raw.get('scenario', ''))} "
            f"<span class='{status}'>{status}</span></h1>",
            f"<p><b>When</b> {_when(raw.get('started_at'))}, for {duration:.0f} s. "
            f"<b>Against</b> {html.escape(str(raw.get('host')))}"
            + (f" from {raw['workers']} workers" if raw.get("workers") else "")
            + f". <b>Scenario</b> {html.escape(raw.get('scenario', ''))} "
            f"({html.escape(param_text)}). <b>Settings</b> {html.escape(settings)}.</p>",
            f"<p class='FAIL'><b>The run measured nothing:</b> {html.escape(cause)}</p>"
            if cause
            else "",
            "<h2>Headline</h2>",
            _table(headline, ["figure", "value"]),
            "<p>Delivery is the time from a send to each member's <code>new_message</code>; "
            "fan-out, to the last member's.</p>",
            "<h2>Verdicts</h2>",
            _table(verdict_rows, ["check", "limit", "value", "verdict", "detail"]),
            "<h2>Over time</h2>",
            latency,
            throughput,
            users,
            "<h2>Delivery counters</h2>",
            _table(counter_table, ["figure", "value", "what it counts"]),
            "<h2>Statistics</h2>",
            _table(
                entry_rows, ["metric", "count", "failures", "p50 ms", "p95 ms", "p99 ms", "max ms"]
            ),
            "<h2>Failures</h2>",
            _table(error_rows, ["metric", "failure", "occurrences"])
            if error_rows
            else "<p>None.</p>",
            "<p>Locust's own report: <a href='locust.html'>locust.html</a>; CSV: "
            "<code>locust_stats.csv</code>, <code>locust_stats_history.csv</code>, "
            "<code>taskchat_delivery.csv</code>, <code>taskchat_delivery_history.csv</code>.</p>",
            "</body></html>",
        ]
    )


def write(report_dir: Path, raw: dict[str, Any], limits: Thresholds) -> dict[str, Any]:
    """Judge, then write ``summary.json``, the delivery CSVs and ``report.html``."""
    cause = no_run_cause(raw)
    verdicts = judge(raw, limits)
    passed = cause is None and all(v.passed for v in verdicts)
    summary = {
        "status": 2 if cause else 0 if passed else 1,
        "passed": passed,
        "cause": cause,
        "verdicts": [v.__dict__ for v in verdicts],
        "figures": figures(raw),
        "counters": raw.get("counters", {}),
        "run": raw,
    }
    (report_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    rows = counter_rows(Counters.total([raw.get("counters", {})]), None)
    (report_dir / "taskchat_delivery.csv").write_text(to_csv(rows, ["name", "value", "meaning"]))
    (report_dir / "taskchat_delivery_history.csv").write_text(
        to_csv(raw.get("history", []), list(Sample.__dataclass_fields__))
    )
    (report_dir / "report.html").write_text(render_html(summary), encoding="utf-8")
    return summary
