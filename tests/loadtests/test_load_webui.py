"""The web UI as a capacity planner uses it: ``taskchat load --ui`` against the reference
server, a scenario picked with Locust's class picker (its parameters in its settings), the
Delivery tab's data filled during the run, its CSVs and chart, and no secret in any page."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from taskchat.embedded import embedded_server

SECRET = "webui-secret-that-must-never-be-shown-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def web_ui(url: str) -> Iterator[str]:
    port = _free_port()
    env = dict(os.environ, TASKCHAT_JWT_SECRET=SECRET)  # exported, as the issue reported
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskchat", "load", "--ui", "--url", url, "--web-port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base, timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail(f"the web UI did not start: {proc.stderr.read() if proc.stderr else ''}")  # fmt: skip
                time.sleep(0.3)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _row(stats: dict, name: str) -> object:
    (table,) = [t for t in stats.get("extended_stats", []) if t["key"] == "delivery"]
    return {r["name"]: r["value"] for r in table["data"]}.get(name)


def test_the_delivery_tab_fills_during_a_run_and_no_page_shows_the_secret() -> None:
    with embedded_server(jwt_secret=SECRET) as server, web_ui(server.url) as ui:
        page = requests.get(ui, timeout=5).text
        assert "window.templateArgs" in page and "taskchat/delivery.js" in page
        assert '"title": "Delivery"' in page or '"title":"Delivery"' in page
        assert '"show_userclass_picker": true' in page.replace('":true', '": true')
        assert '"message_rate"' in page  # the scenario's parameters, in its class settings
        # the planner edits TaskChat's parameters in the picker and starts it alone
        settings = {"user_class_name": "TaskChat", "message_rate": 60, "users_per_room": 3}
        assert requests.post(f"{ui}/user", json=settings, timeout=5).status_code == 201
        form = {"user_count": "6", "spawn_rate": "6", "host": server.url,
                "user_classes": "TaskChat", "jwt_secret": ""}  # fmt: skip
        started = requests.post(f"{ui}/swarm", data=form, timeout=10).json()
        assert started["success"], started
        delivered = 0
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not delivered:
            time.sleep(1)
            stats = requests.get(f"{ui}/stats/requests", timeout=5).json()
            delivered = int(_row(stats, "delivered") or 0)
        assert delivered > 0, stats.get("extended_stats")
        assert _row(stats, "lost") == 0 and _row(stats, "duplicated") == 0
        time.sleep(2.5)  # one more sample for the chart
        history = requests.get(f"{ui}/taskchat/history", timeout=5).json()["samples"]
        assert any(s["delivery_p99_ms"] is not None for s in history)
        chart = requests.get(f"{ui}/taskchat/delivery.png", timeout=10)
        assert chart.headers["Content-Type"] == "image/png" and chart.content[:4] == b"\x89PNG"
        downloads = {
            path: requests.get(f"{ui}{path}", timeout=10)
            for path in ("/taskchat/delivery.csv", "/taskchat/delivery_history.csv",
                         "/stats/requests/csv", "/stats/report", "/taskchat", "/")
        }  # fmt: skip
        assert "delivered" in downloads["/taskchat/delivery.csv"].text
        assert "delivery_p99_ms" in downloads["/taskchat/delivery_history.csv"].text
        requests.get(f"{ui}/stop", timeout=10)
        for path, response in downloads.items():
            assert response.status_code == 200, path
            assert SECRET not in response.text, f"{path} shows the secret"


def test_plain_locust_on_the_packaged_locustfile_listens_on_loopback_by_default() -> None:
    code = (
        "import taskchat.loadtests.plugin;"
        "from locust.argument_parser import parse_options;"
        "print(parse_options([]).web_host, parse_options(['--web-host', '0.0.0.0']).web_host)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["127.0.0.1", "0.0.0.0"], out.stdout


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for task in os.listdir(f"/proc/{p}/task") if os.path.isdir(f"/proc/{p}/task") else []:
            try:
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = {int(c) for c in f.read().split()}
            except OSError:
                continue
            todo += list(kids - found)
            found |= kids
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="reads children from /proc")
def test_sigterm_to_load_ui_ends_the_embedded_server_and_locust_too() -> None:
    """Found by the wheel smoke: a SIGTERM to `taskchat load --ui` (what a supervisor or a CI
    script sends) ended it but left its embedded server and its Locust process running."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "taskchat", "load", "--ui", "--web-port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and proc.poll() is None, "no web UI"
                time.sleep(0.3)
        children = _descendants(proc.pid)
        assert len(children) >= 2  # the embedded server and Locust
        proc.send_signal(signal.SIGTERM)  # to the command only, not its process group
        proc.wait(15)
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [c for c in children if _alive(c)] == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
