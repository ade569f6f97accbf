"""A bounded, seeded run of hostile clients beside honest ones, over real sockets, against the
reference server in a subprocess (issue 11): the server does not crash, every honest request
is answered correctly and every honest message arrives, and once the hostile clients are gone
the server's memory is back near where it started.

The run prints how many hostile inputs it sent, per layer, and how long it took.
"""

from __future__ import annotations

import itertools
import random
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from hostile_clients import ATTACKS
from server_process import SECRET, start, stop
from taskchat.reference_server.auth import make_token

from taskchat.client.connection import ClientError, Connection

SEED = 20261201
HOSTILE_SECONDS = 5.0
HONEST_PACE = 0.15  # seconds between one honest member's messages
# what "back near where it started" allows: the allocator keeps some arenas it once needed
RSS_SLACK_KB = 16_000

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RSS from /proc")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def admin(url: str, method: str, path: str, body: object = None) -> None:
    token = make_token(SECRET, "root", admin=True)
    r = requests.request(method, url + path, json=body, timeout=5,
                         headers={"Authorization": f"Bearer {token}"})
    assert r.status_code < 300, r.text


class Honest:
    """A member who sends at a steady pace and must see every message of their room."""

    def __init__(self, url: str, uid: str, task: str) -> None:
        self.uid, self.task = uid, task
        self.conn = Connection(url, {"token": make_token(SECRET, uid, name=f"Honest {uid}")},
                               timeout=5)
        self.conn.connect()
        (ack,) = self.conn.call("join_task", task, timeout=5)
        assert ack["ok"] is True, ack
        self.sent: list[str] = []
        self.bad: list[Any] = []

    def send(self, text: str) -> None:
        try:
            (ack,) = self.conn.call("send_message", {"taskId": self.task, "message": text},
                                    timeout=5)
        except ClientError as exc:
            self.bad.append(repr(exc))
            return
        if ack.get("ok") is True and ack["message"]["message"] == text:
            self.sent.append(ack["message"]["id"])
        else:
            self.bad.append(ack)

    def run(self, until: float) -> None:
        n = itertools.count()
        while time.monotonic() < until:
            self.send(f"{self.uid} says {next(n)}")
            time.sleep(HONEST_PACE)

    def seen(self) -> set[str]:
        return {r.args[0]["message"]["id"] for r in list(self.conn.received)
                if r.event == "new_message"}


def test_hostile_clients_beside_honest_ones(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    srv = start(tmp_path, None, "--rate-limit", "100", "--rate-window", "10", log=log)
    honest: list[Honest] = []
    try:
        for task in ("busy", "quiet"):
            admin(srv.url, "POST", "/api/tasks", {"taskId": task, "title": task})
        users = {"busy": ["h1", "h2"], "quiet": ["h3", "h4"]}
        for task, uids in users.items():
            for uid in uids:
                admin(srv.url, "PUT", f"/api/tasks/{task}/members/{uid}", {"role": "member"})
        evil = [f"evil{i}" for i in range(12)]
        for uid in evil:
            admin(srv.url, "PUT", f"/api/tasks/busy/members/{uid}", {"role": "member"})
        tokens = itertools.cycle([make_token(SECRET, uid) for uid in evil])
        lock = threading.Lock()

        def token() -> str:
            with lock:
                return next(tokens)

        honest = [Honest(srv.url, uid, task) for task, uids in users.items() for uid in uids]
        for h in honest:  # warm up: what an honest day costs is in the baseline
            for i in range(3):
                h.send(f"warm-up {i}")
        time.sleep(0.3)
        rss_before = rss_kb(srv.proc.pid)

        t0 = time.monotonic()
        until = t0 + HOSTILE_SECONDS
        counts: dict[str, int] = {}

        def attack(name: str) -> None:
            counts[name] = ATTACKS[name](srv.url, random.Random(f"{SEED}:{name}"), until, token,
                                         "busy")

        threads = [threading.Thread(target=attack, args=(n,), daemon=True) for n in ATTACKS]
        threads += [threading.Thread(target=h.run, args=(until,), daemon=True) for h in honest]
        for t in threads:
            t.start()
        for t in threads:
            t.join(HOSTILE_SECONDS + 15)
        elapsed = time.monotonic() - t0
        assert not any(t.is_alive() for t in threads)
        total = sum(counts.values())
        print(f"\nhostile inputs: {total} in {elapsed:.1f} s ({counts}); honest sends: "
              f"{sum(len(h.sent) for h in honest)}")

        # no crash, and every honest request was answered correctly
        assert srv.proc.poll() is None, log.read_text()[-3000:]
        assert [h.bad for h in honest] == [[]] * len(honest)
        assert all(len(h.sent) >= HOSTILE_SECONDS / (HONEST_PACE + 0.5) for h in honest)
        # every honest message reached every honest member of its room, and no other room
        marker = {h.uid: h.sent[-1] for h in honest}
        for h in honest:
            room = [o for o in honest if o.task == h.task]
            for o in room:
                h.conn.wait_for("new_message", lambda a, m=marker[o.uid]: a[0]["message"]["id"] == m,
                                timeout=5)
            expected = {mid for o in room for mid in o.sent}
            others = {mid for o in honest if o.task != h.task for mid in o.sent}
            assert expected <= h.seen(), (h.uid, len(expected - h.seen()))
            assert not others & h.seen()

        # the hostile clients are gone: the server's memory comes back near where it started
        deadline = time.monotonic() + 5
        while True:
            time.sleep(0.5)
            rss_after = rss_kb(srv.proc.pid)
            if rss_after <= rss_before + RSS_SLACK_KB or time.monotonic() > deadline:
                break
        print(f"server RSS: {rss_before} kB before, {rss_after} kB after")
        assert rss_after <= rss_before + RSS_SLACK_KB
        for h in honest:
            h.send("still here")
            assert not h.bad and h.conn.connected
        assert requests.get(srv.url + "/healthz", timeout=5).status_code == 200
    finally:
        for h in honest:
            h.conn.close()
        stop(srv, signal.SIGTERM)
    assert srv.proc.returncode == 0
    assert "Traceback" not in log.read_text(), log.read_text()[-5000:]
