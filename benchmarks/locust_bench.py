"""CPU per received message and memory per user of the Locust user, against Locust's own.

    .venv/bin/python benchmarks/locust_bench.py [--users 200] [--room-size 50]
        [--rate 10] [--seconds 10] [--only raw|baseline|idle] [--profile PREFIX]
    # one worker at scale: 10,000 users receiving for a minute
    .venv/bin/python benchmarks/locust_bench.py --only raw --users 10000 --rate 0.2 --seconds 60

One command, one embedded reference server, two runs of one Locust process each on the same
workload: ``--users`` users in rooms of ``--room-size``; the first user of each room sends
``--rate`` messages per second (with an ack), every member receives them. First the users
connect, join and sit idle (memory per user = RSS growth / users, after a GC); then the senders
send for ``--seconds`` (CPU per received message = process CPU time / new_message events
received). Run A: ``taskchat.loadtests.user.SocketIOUser`` (the toolkit's raw client, delivery
tracked). Run B: ``locust.contrib.socketio.SocketIOUser`` (python-socketio's client). Run C: a
Locust user that does nothing, Locust's own memory per user under both. Prints the figures and
the ratios. Targets: <= 30 us CPU per received message, <= 16 KB per idle user.
Memory per user is measured twice: all-in (RSS growth / users, fixed costs of the first
connection included) and marginal (half the users connect, then the other half: RSS growth of the
second half / its users), the figure that says how many more users a worker holds.

This file is also the locustfile of both runs (``BENCH_MODE`` = raw or baseline).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODE = os.environ.get("BENCH_MODE")


def _orchestrate() -> int:
    sys.path.insert(0, str(ROOT))
    from taskchat.client.control import AdminApiAdapter
    from taskchat.client.tokens import mint_token
    from taskchat.embedded import embedded_server

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--room-size", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help="messages/s per sender")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--spawn-rate", type=float, help="users started per second "
                        "(default: all at once up to 500/s)")  # fmt: skip
    parser.add_argument("--profile", help="write a cProfile of the measured window to PREFIX-mode")
    parser.add_argument("--only", choices=("raw", "baseline", "idle"), action="append",
                        help="run only these modes (profiling); prints their raw figures")  # fmt: skip
    args = parser.parse_args()

    results: dict[str, dict[str, Any]] = {}
    spawn_rate = args.spawn_rate or min(max(50, args.users), 500)
    # time allowed for each half of the users to connect and join
    connect_s = 20 + args.users / spawn_rate + args.users / 100
    with (
        tempfile.TemporaryDirectory() as tmp,
        embedded_server(
            extra_args=["--rate-limit", "1000000", "--db", ":memory:", "--log-level", "error"]
        ) as server,
    ):
        admin = AdminApiAdapter(server.url, server.admin_token)
        for mode in args.only or ("raw", "baseline", "idle"):
            rooms = []
            tokens = []
            for i in range(args.users):
                if i % args.room_size == 0:
                    rooms.append(admin.create_task(f"bench {mode} {len(rooms)}"))
                user_id = f"bench-{mode}-{i}"
                admin.set_member(rooms[-1], user_id, "member", f"Bench {i}")
                tokens.append(mint_token(server.jwt_secret, user_id, name=f"Bench {i}"))
            plan = Path(tmp) / f"{mode}.json"
            out = Path(tmp) / f"{mode}-result.json"
            plan.write_text(json.dumps({
                "url": server.url, "tokens": tokens, "rooms": rooms,
                "room_size": args.room_size, "rate": args.rate, "seconds": args.seconds,
                "connect_s": connect_s,
                "result": str(out),
            }))  # fmt: skip
            cmd = [sys.executable, "-m", "locust", "-f", __file__, "--headless",
                   "-u", str(args.users), "-r", str(spawn_rate),
                   "-H", server.url, "-t", f"{int(args.seconds + 90 + 2 * connect_s)}s",
                   "--only-summary",
                   "--loglevel", "WARNING", "--exit-code-on-error", "0"]  # fmt: skip
            env = dict(os.environ, BENCH_MODE=mode, BENCH_PLAN=str(plan))
            if args.profile:
                env["BENCH_PROFILE"] = f"{args.profile}-{mode}"
            env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
            print(f"running {mode}: {args.users} users, rooms of {args.room_size}, "
                  f"{args.rate}/s per sender for {args.seconds}s ...", flush=True)  # fmt: skip
            log = Path(tmp) / f"{mode}.log"
            with log.open("wb") as sink:
                subprocess.run(cmd, env=env, timeout=args.seconds + 120 + 2 * connect_s, check=False,
                               stdout=sink, stderr=subprocess.STDOUT)  # fmt: skip
            if not out.exists():
                text = log.read_text()
                first = text.find("Traceback")
                print(f"{mode}: no result; Locust said:\n{text[first : first + 3000]}")
                return 2
            results[mode] = json.loads(out.read_text())
            text = log.read_text()
            if "Traceback" in text:
                first = text.find("Traceback")
                print(f"{mode}: Locust reported an error:\n{text[first : first + 2000]}")
    if args.only:
        print(json.dumps(results, indent=2))
        return 0
    raw, base, idle = results["raw"], results["baseline"], results["idle"]
    print()
    print(f"{'':34}{'raw (taskchat)':>16}{'locust SocketIOUser':>22}{'ratio':>8}")
    for key, label, unit in (
        ("cpu_us_per_message", "CPU per received message", "us"),
        ("kb_per_user_marginal", "memory per idle user (marginal)", "KB"),
        ("kb_per_user", "memory per idle user (all-in)", "KB"),
    ):
        ratio = base[key] / raw[key] if raw[key] else float("nan")
        print(f"{label:34}{raw[key]:>13.1f} {unit}{base[key]:>19.1f} {unit}{ratio:>7.2f}x")
    print(f"{'messages received':34}{raw['received']:>16}{base['received']:>22}")
    print(f"{'users connected':34}{raw['connected']:>16}{base['connected']:>22}")
    print(f"{'of which Locust itself (a user that does nothing)':50}"
          f"{idle['kb_per_user_marginal']:.1f} KB marginal, {idle['kb_per_user']:.1f} KB all-in")
    print("targets: <= 30 us per received message, <= 16 KB per idle user (marginal)")
    return 0


if MODE is None:
    if __name__ == "__main__":
        sys.exit(_orchestrate())
else:
    # -- the locustfile of one run ---------------------------------------------------------
    import cProfile
    import gc
    import itertools

    import gevent
    import gevent.event
    import psutil
    from locust import User, constant, events, task
    from locust.contrib.socketio import SocketIOUser as LocustSocketIOUser
    from taskchat.loadtests import runtime
    from taskchat.loadtests.user import SocketIOUser
    from taskchat.schemas import Event

    PLAN: dict[str, Any] = json.loads(Path(os.environ["BENCH_PLAN"]).read_text())
    NUMBERS = itertools.count()
    STATE = {"connected": 0, "received": 0, "sending": False, "done": False}

    # the second half of the users waits: memory is measured after each half, so the figure per
    # user is the marginal cost (what one more user adds), free of the process's fixed costs
    HALF = len(PLAN["tokens"]) // 2
    SECOND_HALF = gevent.event.Event()

    def _identity() -> tuple[str, str, bool]:
        n = next(NUMBERS)
        if n >= HALF:
            SECOND_HALF.wait()
        room = PLAN["rooms"][n // PLAN["room_size"]]
        return PLAN["tokens"][n], room, n % PLAN["room_size"] == 0

    def _idle(sender: bool) -> None:
        """A reader sits still (it only receives); a sender looks for the start often. Readers
        waking every second would make the per-message CPU at 10,000 users mostly Locust's
        scheduling of idle users."""
        time.sleep(0.2 if sender else 3600)

    def _payload(room: str, n: int) -> dict[str, Any]:
        return {"taskId": room, "message": f"bench message {n}", "clientMessageId": f"b{n}"}

    class Raw(SocketIOUser):
        wait_time = constant(0)
        abstract = MODE != "raw"

        def on_start(self) -> None:
            self.token, self.room, self.sender = _identity()
            for attempt in range(8):  # thousands connecting at once: some time out, retry
                if self.connect() and self.join(self.room):
                    STATE["connected"] += 1
                    return
                time.sleep(min(30, 2**attempt))

        def auth(self) -> dict[str, Any]:
            return {"token": self.token}

        def on_event(self, event: str, args: list[Any], t: float) -> None:
            if event == Event.NEW_MESSAGE:
                STATE["received"] += 1

        @task
        def send(self) -> None:
            if self.sender and STATE["sending"]:
                self.send_message(self.room, "bench message")
                time.sleep(1.0 / PLAN["rate"])
            else:
                _idle(self.sender)

    class Idle(User):
        """No connection at all: Locust's own cost per user, the floor under both others."""

        wait_time = constant(0)
        abstract = MODE != "idle"

        def on_start(self) -> None:
            _identity()
            STATE["connected"] += 1

        @task
        def send(self) -> None:
            _idle(False)

    class Baseline(LocustSocketIOUser):
        wait_time = constant(0)
        abstract = MODE != "baseline"

        def on_start(self) -> None:
            token, self.room, self.sender = _identity()
            self.n = 0
            plain = self.sio.on_message

            def counting(event: str, data: Any) -> None:
                if event == Event.NEW_MESSAGE:
                    STATE["received"] += 1
                plain(event, data)

            self.sio.on("*", counting)
            self.sio.connect(PLAN["url"], auth={"token": token}, transports=["websocket"])
            self.sio.call(Event.JOIN_TASK, self.room)
            STATE["connected"] += 1

        @task
        def send(self) -> None:
            if self.sender and STATE["sending"]:
                self.n += 1
                self.sio.call(Event.SEND_MESSAGE, _payload(self.room, self.n))
                time.sleep(1.0 / PLAN["rate"])
            else:
                _idle(self.sender)

    def _settled(process: psutil.Process, target: int) -> int:
        """Wait until ``target`` users are connected (or the time is up), idle, collected."""
        deadline = time.monotonic() + PLAN.get("connect_s", 20)  # whoever made it by then
        while STATE["connected"] < target and time.monotonic() < deadline:
            gevent.sleep(0.1)
        gevent.sleep(4.5)  # idle: the run's sweeper forgets the join announcements (grace 3 s)
        gc.collect()
        return int(process.memory_info().rss)

    def _measure(environment: Any, rss0: int) -> None:
        process = psutil.Process()
        users = len(PLAN["tokens"])
        rss_half = _settled(process, HALF)
        connected_half = STATE["connected"]
        SECOND_HALF.set()
        rss1 = _settled(process, users)
        if os.environ.get("BENCH_TRACEMALLOC"):
            import tracemalloc

            diff = tracemalloc.take_snapshot().compare_to(STATE["snap"], "traceback")
            lines = [f"total {sum(d.size_diff for d in diff) / users:.0f} B per user"]
            for d in diff[:40]:
                lines.append(f"{d.size_diff / users:8.0f} B/user")
                lines += [f"    {f.filename}:{f.lineno}" for f in d.traceback[-8:]]
            Path(os.environ["BENCH_TRACEMALLOC"] + "-" + MODE).write_text("\n".join(lines))
        STATE["sending"] = True
        gevent.sleep(1.0)  # warm-up: senders get going
        profile = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
        cpu0, received0 = time.process_time(), STATE["received"]
        if profile is not None:
            profile.enable()
        gevent.sleep(PLAN["seconds"])
        if profile is not None:
            profile.disable()
            profile.dump_stats(os.environ["BENCH_PROFILE"])
        cpu1, received1 = time.process_time(), STATE["received"]
        STATE["sending"] = False
        received = received1 - received0
        result = {
            "connected": STATE["connected"],
            "received": received,
            "cpu_us_per_message": (cpu1 - cpu0) / max(1, received) * 1e6,
            "kb_per_user": (rss1 - rss0) / 1024 / max(1, STATE["connected"]),
            "kb_per_user_marginal": (rss1 - rss_half)
            / 1024
            / max(1, STATE["connected"] - connected_half),
        }
        Path(PLAN["result"]).write_text(json.dumps(result))
        environment.runner.quit()

    @events.init.add_listener
    def _init(environment: Any, **_: Any) -> None:
        if MODE == "raw":
            runtime.install(environment)  # the real run's wiring: sweeper, counters

    @events.test_start.add_listener
    def _start(environment: Any, **_: Any) -> None:
        gc.collect()
        if os.environ.get("BENCH_TRACEMALLOC"):
            import tracemalloc

            tracemalloc.start(8)
            STATE["snap"] = tracemalloc.take_snapshot()
        gevent.spawn(_measure, environment, psutil.Process().memory_info().rss)

    __all__ = ["Baseline", "Idle", "Raw"]
