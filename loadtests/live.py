"""What a run looks like while it runs: a sample of the delivery figures every few seconds.

The master (or the only process) keeps the samples: they feed the web UI's Delivery tab, its CSV
downloads and chart, and the status line a headless run prints, as headless Locust does. Latency
percentiles are Locust's own current (last 10 s) percentiles of the delivery and fan-out metrics,
which Locust already aggregates across workers; the counters are the run's totals
(``runtime.totals``: on a master, the sum of the workers' latest reports).
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from taskchat.loadtests.delivery import (
    DELIVERY,
    FANOUT,
    REQUEST_TYPE,
    Counters,
    ack_metric,
)
from taskchat.schemas import Event

if TYPE_CHECKING:  # no locust import at run time: the report (outside Locust) uses this module
    from locust.env import Environment

SEND_ACK = ack_metric(Event.SEND_MESSAGE)


@dataclass(frozen=True)
class Sample:
    """One moment of a run; latencies in ms (None before the first sample of the metric)."""

    elapsed_s: float
    users: int
    sends_per_s: float
    deliveries_per_s: float
    delivery_p50_ms: float | None
    delivery_p95_ms: float | None
    delivery_p99_ms: float | None
    fanout_p50_ms: float | None
    fanout_p99_ms: float | None
    delivered: int
    lost: int
    duplicated: int
    reordered: int
    unacked: int
    disconnects: int
    reconnects: int
    errors: int  # failed requests and error events
    sends: int = 0  # acked or failed sends so far


    def status_line(self) -> str:
        return (
            f"{self.elapsed_s:5.0f}s  users {self.users}  sends/s {self.sends_per_s:.1f}  "
            f"deliveries/s {self.deliveries_per_s:.1f}  delivery p50/p99 "
            f"{_ms(self.delivery_p50_ms)}/{_ms(self.delivery_p99_ms)} ms  lost {self.lost}  "
            f"duplicated {self.duplicated}  errors {self.errors}"
        )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def sample(
    environment: Environment, counters: Counters, started: float, previous: Sample | None
) -> Sample:
    """The run now; rates are counted since ``previous`` (on a master too, where Locust's own
    current rates lag by the workers' report interval)."""
    stats = environment.stats

    def current(name: str, percent: float) -> float | None:
        entry = stats.entries.get((name, REQUEST_TYPE))
        if entry is None or not entry.num_requests:
            return None
        value = entry.get_current_response_time_percentile(percent)
        return float(value) if value is not None else None

    send_entry = stats.entries.get((SEND_ACK, REQUEST_TYPE))
    sends = send_entry.num_requests if send_entry is not None else 0
    elapsed = round(time.time() - started, 1)

    def rate(now: int, before: int) -> float:
        span = elapsed - previous.elapsed_s if previous is not None else elapsed
        return round(max(0, now - before) / span, 2) if span > 0 else 0.0

    failed = sum(e.num_failures for k, e in stats.entries.items() if k[0] != DELIVERY)
    runner = environment.runner
    return Sample(
        elapsed_s=elapsed,
        users=runner.user_count if runner is not None else 0,
        sends_per_s=rate(sends, previous.sends if previous else 0),
        deliveries_per_s=rate(counters.delivered, previous.delivered if previous else 0),
        delivery_p50_ms=current(DELIVERY, 0.5),
        delivery_p95_ms=current(DELIVERY, 0.95),
        delivery_p99_ms=current(DELIVERY, 0.99),
        fanout_p50_ms=current(FANOUT, 0.5),
        fanout_p99_ms=current(FANOUT, 0.99),
        delivered=counters.delivered,
        lost=counters.lost,
        duplicated=counters.duplicated,
        reordered=counters.reordered,
        unacked=counters.unacked,
        disconnects=counters.disconnects,
        reconnects=counters.reconnects,
        errors=failed + sum(counters.errors_by_code.values()),
        sends=sends,
    )


class History:
    """The run's samples, oldest first (bounded: a day at one sample per 2 s)."""

    limit = 43_200

    def __init__(self) -> None:
        self.samples: list[Sample] = []

    def add(self, s: Sample) -> None:
        self.samples.append(s)
        del self.samples[: -self.limit]

    def clear(self) -> None:
        self.samples.clear()

    def rows(self) -> list[dict[str, Any]]:
        return [asdict(s) for s in self.samples]

    def csv(self) -> str:
        return to_csv(self.rows(), list(Sample.__dataclass_fields__))


def to_csv(rows: list[dict[str, Any]], fields: list[str]) -> str:
    """Rows as CSV (the Delivery tab's downloads and the headless report's files)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def counter_rows(counters: Counters, last: Sample | None) -> list[dict[str, Any]]:
    """The Delivery tab's table and its CSV: one row per figure."""
    rows: list[tuple[str, Any, str]] = [
        ("delivered", counters.delivered, "(message, member) pairs that had to arrive and did"),
        ("lost", counters.lost, "acked to the sender, not received by a member within grace"),
        ("duplicated", counters.duplicated, "the same message twice on a socket, or twice made"),
        ("out of order", counters.reordered, "a sender's messages swapped on a socket"),
        ("unacknowledged", counters.unacked, "sends whose ack never came"),
        ("disconnects", counters.disconnects, "connections closed without the user asking"),
        ("reconnects", counters.reconnects, "connections made again after a drop"),
        ("reconnect failures", counters.reconnect_failures, "users that could not come back"),
        ("planned drops", counters.planned_drops, "connections the scenario cut on purpose"),
        ("setup failures", counters.setup_failures, "users whose rooms or identity failed"),
    ]
    for code, n in sorted(counters.errors_by_code.items()):
        rows.append((f"error {code}", n, "error events with this code"))
    if last is not None:
        for label, value in (
            ("delivery p50 (ms, last 10 s)", last.delivery_p50_ms),
            ("delivery p95 (ms, last 10 s)", last.delivery_p95_ms),
            ("delivery p99 (ms, last 10 s)", last.delivery_p99_ms),
            ("fan-out p50 (ms, last 10 s)", last.fanout_p50_ms),
            ("fan-out p99 (ms, last 10 s)", last.fanout_p99_ms),
        ):
            rows.append((label, "-" if value is None else round(value, 1), "send to member"))
    return [{"name": n, "value": v, "meaning": m} for n, v, m in rows]
