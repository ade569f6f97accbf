"""A real distributed run: a master and two separate worker processes over TCP on 127.0.0.1,
started with the commands the README gives for several machines. The master sums the workers'
delivery counters and judges the thresholds; rooms and users never collide across workers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from load_chat_server import running_chat_server

SECRET = "load-test-secret-of-at-least-32-bytes"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_master_and_two_workers_aggregate_and_judge_on_the_master(tmp_path: Path) -> None:
    port = _free_port()
    env = dict(os.environ, TASKCHAT_JWT_SECRET=SECRET)  # exported on every machine
    tc = [sys.executable, "-m", "taskchat", "load"]
    with running_chat_server(SECRET) as server:
        master = subprocess.Popen(
            [*tc, "--master", "--expect-workers", "2", "--master-bind-host", "127.0.0.1",
             "--master-bind-port", str(port), "--url", server.url,
             "--users", "8", "--spawn-rate", "8", "--run-time", "8s", "--grace", "1.5",
             "--message-rate", "60", "--users-per-room", "2", "--status-every", "0",
             "--max-loss", "0", "--max-error-rate", "0.01", "--max-p99-delivery-ms", "5000",
             "--report-dir", str(tmp_path)],
            env=env, start_new_session=True,
        )  # fmt: skip
        worker = [*tc, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
        workers = [
            subprocess.Popen(worker, env=env, stdout=subprocess.DEVNULL, start_new_session=True)
            for _ in range(2)
        ]
        try:
            code = master.wait(120)
            for worker in workers:
                worker.wait(30)
        finally:
            for proc in (master, *workers):
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        rooms = dict(server.tasks)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert code == 0, (summary["cause"], summary["verdicts"])
    assert {v["name"] for v in summary["verdicts"]} == {
        "loss rate", "error rate", "p99 delivery (ms)"}  # judged by the master  # fmt: skip
    per_worker = summary["run"]["worker_counters"]
    assert len(per_worker) == 2 and all(c["delivered"] > 0 for c in per_worker.values())
    assert summary["counters"]["delivered"] == sum(c["delivered"] for c in per_worker.values())
    assert summary["counters"]["lost"] == 0
    # every room's members come from the worker that made the room: no collision
    users = set()
    for task_id, members in rooms.items():
        worker_tag = task_id.split("-")[1]
        assert members and all(m.split("-")[1] == worker_tag for m in members), (task_id, members)
        users |= members
    assert len(users) == 8 and len({t.split("-")[1] for t in rooms}) == 2
