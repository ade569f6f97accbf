"""``taskchat load`` end to end: Locust runs headless as a subprocess, the report is written, and
the exit status says whether the thresholds held."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from load_chat_server import running_chat_server

from taskchat.cli import main
from taskchat.client.tokens import mint_token

SECRET = "load-test-secret-of-at-least-32-bytes"
QUICK = ["--users", "6", "--spawn-rate", "6", "--run-time", "8s", "--grace", "1.5",
         "--message-rate", "60"]  # fmt: skip


def _report(run_dir: Path) -> tuple[dict, Path]:
    return json.loads((run_dir / "summary.json").read_text()), run_dir


def test_a_healthy_run_on_two_processes_passes_and_writes_the_report(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with running_chat_server(SECRET) as server:
        code = main(["load", "--url", server.url, "--jwt-secret", SECRET, *QUICK,
                     "--processes", "2", "--max-loss", "0", "--max-error-rate", "0.01",
                     "--max-p99-delivery-ms", "5000", "--status-every", "2",
                     "--report-dir", str(tmp_path)])  # fmt: skip
    summary, run_dir = _report(tmp_path)  # written into the folder given, not below it
    assert code == 0, summary["verdicts"]
    counters = summary["counters"]
    assert counters["delivered"] > 0  # summed from both worker processes
    assert (counters["lost"], counters["duplicated"], counters["reordered"]) == (0, 0, 0)
    assert summary["figures"]["delivery_p99_ms"] is not None
    page = (run_dir / "report.html").read_text()
    # matplotlib's charts, inline: axes labelled with units, a legend; no script
    assert page.count("<svg") >= 3 and "latency (ms)" in page and "delivery p99" in page
    assert "<script" not in page and server.url in page and "TaskChat" in page
    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust.html",
                 "taskchat_delivery.csv", "taskchat_delivery_history.csv"):  # fmt: skip
        assert (run_dir / name).exists()
    assert "lost" in (run_dir / "taskchat_delivery.csv").read_text()
    # headless progress: a status line every few seconds, as headless Locust prints
    status = [line for line in capfd.readouterr().out.splitlines() if "deliveries/s" in line]
    assert len(status) >= 2 and "lost" in status[-1]


def test_losses_and_a_tight_latency_threshold_fail_the_run(tmp_path: Path) -> None:
    with running_chat_server(SECRET, fault="drop") as server:
        code = main(["load", "--url", server.url, "--jwt-secret", SECRET, *QUICK,
                     "--max-loss", "0", "--max-p99-delivery-ms", "0.001",
                     "--report-dir", str(tmp_path)])  # fmt: skip
    summary, _ = _report(tmp_path)
    assert code == 1
    assert summary["counters"]["lost"] > 0
    failed = {v["name"] for v in summary["verdicts"] if not v["passed"]}
    assert failed == {"loss rate", "p99 delivery (ms)"}


@pytest.mark.skipif(
    importlib.util.find_spec("taskchat.reference_server.cli") is None,
    reason="the reference server's command line is not built yet",
)
def test_a_short_run_against_the_embedded_reference_server(tmp_path: Path) -> None:
    code = main(["load", *QUICK, "--max-loss", "0", "--max-error-rate", "0.05",
                 "--report-dir", str(tmp_path)])  # fmt: skip
    summary, _ = _report(tmp_path)
    assert code == 0, summary["verdicts"]
    assert summary["counters"]["delivered"] > 0


def test_pre_made_tokens_from_the_conformance_config_are_used(tmp_path: Path) -> None:
    """A server without an admin API: the users share the config's tokens in its main task."""
    roles = ("owner", "admin", "member", "member2", "viewer", "outsider", "admin_api")
    tokens = {role: mint_token(SECRET, f"pre-{role}", name=role) for role in roles}
    with running_chat_server(SECRET) as server:
        server.tasks["main-task"] = {f"pre-{r}" for r in ("owner", "admin", "member", "member2")}
        config = tmp_path / "target.toml"
        config.write_text(
            f'url = "{server.url}"\nadapter = "none"\n[tasks]\nmain = "main-task"\n'
            "[tokens]\n" + "".join(f'{role} = "{token}"\n' for role, token in tokens.items())
        )
        code = main(["load", "--config", str(config), *QUICK, "--max-loss", "0",
                     "--report-dir", str(tmp_path / "reports")])  # fmt: skip
    summary, _ = _report(tmp_path / "reports")
    assert code == 0, summary["verdicts"]
    assert summary["counters"]["delivered"] > 0
