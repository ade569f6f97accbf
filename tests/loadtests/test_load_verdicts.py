"""A load run that measured nothing is not a pass: no user connected, or nothing delivered,
exits 2 with the cause; a rate with nothing to divide by is not 0; without thresholds a failed
request fails the run, as Locust's own default does."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from taskchat.loadtests.delivery import CONNECT
from taskchat.loadtests.report import Thresholds, figures, judge, no_run_cause

from taskchat.cli import main
from taskchat.embedded import embedded_server

SECRET = "load-test-secret-of-at-least-32-bytes"
QUICK = ["--users", "3", "--spawn-rate", "3", "--run-time", "4s", "--grace", "1",
         "--status-every", "0"]  # fmt: skip


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def test_a_closed_port_exits_2_and_says_the_server_is_unreachable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    code = main(["load", "--url", url, "--jwt-secret", SECRET, *QUICK,
                 "--max-error-rate", "0.5", "--report-dir", str(tmp_path)])  # fmt: skip
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code == 2
    assert "unreachable" in summary["cause"]
    assert "NO RUN" in capsys.readouterr().out and "unreachable" in summary["cause"]
    assert "unreachable" in (tmp_path / "report.html").read_text()


def test_a_wrong_secret_exits_2_and_says_the_token_was_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with embedded_server(jwt_secret=SECRET) as server:
        code = main(["load", "--url", server.url, "--jwt-secret", "x" * 40, *QUICK,
                     "--report-dir", str(tmp_path)])  # fmt: skip
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code == 2
    assert "refused the token" in summary["cause"]
    out = capsys.readouterr().out
    assert "NO RUN" in out and "refused the token" in out


def _raw(connects: int, connect_failures: int, deliveries: int, **counters: int) -> dict:
    entries = [
        {"name": CONNECT, "requests": connects, "failures": connect_failures, "p99_ms": 5},
        {"name": "send_message ack", "requests": deliveries, "failures": 0, "p99_ms": 5},
        {"name": "delivery (send to each member)", "requests": deliveries, "failures": 0,
         "median_ms": 3, "p95_ms": 4, "p99_ms": 5},
    ]  # fmt: skip
    return {"entries": entries, "errors": [], "counters": counters}


def test_rates_with_nothing_to_divide_by_are_not_zero_and_fail_their_threshold() -> None:
    raw = {"entries": [], "errors": [], "counters": {}}
    f = figures(raw)
    assert f["error_rate"] is None and f["loss_rate"] is None
    verdicts = judge(raw, Thresholds(max_loss=0, max_error_rate=0.1))
    assert [v.passed for v in verdicts] == [False, False]
    assert no_run_cause(raw) == "no user connected: no user was started"


def test_connected_but_nothing_delivered_is_no_run() -> None:
    cause = no_run_cause(_raw(connects=3, connect_failures=0, deliveries=0))
    assert cause is not None and "nothing was delivered" in cause


def test_without_thresholds_a_failed_request_fails_the_run() -> None:
    raw = _raw(connects=4, connect_failures=1, deliveries=10, delivered=10)
    assert no_run_cause(raw) is None
    (verdict,) = judge(raw, Thresholds())
    assert not verdict.passed and verdict.value == 1
    (verdict,) = judge(_raw(connects=4, connect_failures=0, deliveries=10), Thresholds())
    assert verdict.passed


def test_the_command_side_never_imports_locust() -> None:
    """gevent's monkey-patching must not reach the caller (CI, tests): Locust runs apart."""
    code = (
        "import sys, taskchat.loadtests.cli, taskchat.loadtests.report;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
