"""Server benchmark: the reference server under a chat load, against Node's socket.io 4.x
(``benchmarks/node/server.mjs``) and python-socketio's AsyncServer (under uvicorn) doing the same
hot path, in the same run, at two load points.

    python -m benchmarks.server_bench [--points 20x10x1,50x20x1 --duration 20] [--profile DIR]

A load point RxUxM is R rooms x U users, one connection each; every user joins its room and
sends M messages a second; every message reaches the U sockets of its room. A separate load
process (trio + wsproto speaking Engine.IO/Socket.IO directly: a python-socketio client per
connection would cost more CPU than the server under test) drives the load and reads the
server's CPU time and RSS from /proc. Printed per server and load point: server CPU per
delivered message, deliveries per second, delivery latency p50/p99 (send to receipt, both ends
on this host's monotonic clock), RSS per connection, loss, and — for the reference server —
that every acknowledged message is in the database; then the ratios to both baselines.
``--profile DIR`` runs the reference server once more under py-spy (from outside the process:
the product carries no profiling code) and prints where its time goes.
Loopback only; each run is bounded by --duration plus a short drain.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-0123456789abcdef0123456789"
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


# ---------------------------------------------------------------------- /proc readings


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


# ---------------------------------------------------------------------- the load process


async def _load(cfg: dict[str, Any]) -> dict[str, Any]:
    import orjson
    import trio
    import wsproto
    from wsproto.events import (
        AcceptConnection,
        CloseConnection,
        Message,
        Ping,
        Request,
        TextMessage,
    )

    host, port, pid = cfg["host"], cfg["port"], cfg["pid"]
    rooms, users, rate, duration = cfg["rooms"], cfg["users"], cfg["rate"], cfg["duration"]
    tokens: list[list[str]] = cfg["tokens"]
    latencies: list[int] = []
    stats = {"sent": 0, "acked": 0, "delivered": 0, "refused": 0}
    joined = trio.Event()
    go = trio.Event()
    n_joined = 0
    total = rooms * users
    per_user = int(duration * rate)
    expected = total * per_user * users  # each message reaches the U sockets of its room
    all_in = trio.Event()

    class Conn:
        def __init__(self, stream: trio.SocketStream) -> None:
            self.stream = stream
            self.ws = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
            self.texts: deque[str] = deque()
            self.buf: list[str] = []
            self.lock = trio.Lock()  # the sender task and the pong both write

        async def handshake(self) -> None:
            target = "/socket.io/?EIO=4&transport=websocket"
            await self.stream.send_all(self.ws.send(Request(host=f"{host}:{port}", target=target)))
            accepted = False
            while not accepted:
                for ev in await self._events():
                    if isinstance(ev, AcceptConnection):
                        accepted = True
                    else:  # the open packet may come in the same segment as the 101
                        await self._handle(ev)

        async def _events(self) -> list[Any]:
            data = await self.stream.receive_some(65536)
            if not data:
                raise ConnectionError("closed")
            self.ws.receive_data(data)
            return list(self.ws.events())

        async def send(self, text: str) -> None:
            await self.write(self.ws.send(Message(data=text)))

        async def write(self, data: bytes) -> None:
            async with self.lock:
                await self.stream.send_all(data)

        async def recv(self) -> str:
            while not self.texts:
                for ev in await self._events():
                    await self._handle(ev)
            return self.texts.popleft()

        async def _handle(self, ev: Any) -> None:
            if isinstance(ev, TextMessage):
                self.buf.append(ev.data)
                if ev.message_finished:
                    self.texts.append("".join(self.buf))
                    self.buf = []
            elif isinstance(ev, Ping):
                await self.write(self.ws.send(ev.response()))
            elif isinstance(ev, CloseConnection):
                raise ConnectionError("closed by the server")

    async def user(room: int, idx: int, token: str) -> None:
        nonlocal n_joined
        stream = await trio.open_tcp_stream(host, port)
        conn = Conn(stream)
        await conn.handshake()
        first = await conn.recv()
        assert first.startswith("0"), first
        await conn.send("40" + orjson.dumps({"token": token}).decode())
        answer = await conn.recv()
        assert answer.startswith("40"), answer
        task = f"bench-{room}"
        await conn.send("420" + orjson.dumps(["join_task", task]).decode())
        while True:
            text = await conn.recv()
            if text == "2":
                await conn.send("3")
            elif text.startswith("430"):
                break
        n_joined += 1
        if n_joined == total:
            joined.set()

        async def sender() -> None:
            await go.wait()
            await trio.sleep(random.random() / rate)  # spread the sends over the period
            start = trio.current_time()
            for i in range(per_user):
                await trio.sleep_until(start + i / rate)
                body = {"taskId": task, "message": f"{time.monotonic_ns()}",
                        "clientMessageId": f"{room}-{idx}-{i}"}
                await conn.send(f"42{i + 1}" + orjson.dumps(["send_message", body]).decode())
                stats["sent"] += 1

        async with trio.open_nursery() as nursery:
            nursery.start_soon(sender)
            while True:
                try:
                    text = await conn.recv()
                except (ConnectionError, trio.BrokenResourceError, trio.ClosedResourceError):
                    break
                now = time.monotonic_ns()
                if text.startswith('42["new_message"'):
                    event = orjson.loads(text[2:])
                    latencies.append(now - int(event[1]["message"]["message"]))
                    stats["delivered"] += 1
                    if stats["delivered"] == expected:
                        all_in.set()
                elif text == "2":
                    await conn.send("3")
                elif text.startswith("43"):
                    if '"ok":true' in text:
                        stats["acked"] += 1
                    else:
                        stats["refused"] += 1

    rss0 = proc_rss(pid)
    async with trio.open_nursery() as nursery:
        limiter = trio.CapacityLimiter(50)

        async def start_user(room: int, idx: int) -> None:
            async with limiter:
                pass
            await user(room, idx, tokens[room][idx])

        for r in range(rooms):
            for u in range(users):
                nursery.start_soon(start_user, r, u)
        with trio.fail_after(60):
            await joined.wait()
        await trio.sleep(0.5)
        rss1 = proc_rss(pid)
        cpu0 = proc_cpu(pid)
        t0 = time.monotonic()
        go.set()
        with trio.move_on_after(duration + 5):
            await all_in.wait()
        elapsed = time.monotonic() - t0
        cpu1 = proc_cpu(pid)
        nursery.cancel_scope.cancel()

    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] / 1e6 if latencies else -1

    return {
        **stats,
        "expected": expected,
        "connections": total,
        "server_cpu_s": cpu1 - cpu0,
        "elapsed_s": elapsed,
        "rss_per_conn": (rss1 - rss0) / total,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def load_worker(cfg_path: str) -> None:
    import trio

    print(json.dumps(trio.run(_load, json.loads(Path(cfg_path).read_text()))), flush=True)


# ---------------------------------------------------------------------- the servers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise TimeoutError(url)


def start_taskchat(
    tmp: Path, args: argparse.Namespace, profile_to: Path | None = None
) -> tuple[subprocess.Popen[bytes], int, int]:
    """The server process, its port and the pid of the server itself (under py-spy, the
    Popen is py-spy's)."""
    ready = tmp / "ready.json"
    cmd = [sys.executable, "-c", "import sys; from taskchat.cli import main; sys.exit(main())",
           "serve", "--port", "0", "--db", str(tmp / "bench.sqlite3"), "--jwt-secret", SECRET,
           "--ready-file", str(ready), "--rate-limit", "0", "--log-level", "warning",
           "--db-sync", args.db_sync]
    if profile_to is not None:
        py_spy = Path(sys.executable).with_name("py-spy")
        cmd = [str(py_spy), "record", "--format", "raw", "--rate", "250", "--nonblocking",
               "--output", str(profile_to), "--", *cmd]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("taskchat serve did not start")
        time.sleep(0.05)
    info = json.loads(ready.read_text())
    port = int(info["url"].rsplit(":", 1)[1])
    return proc, port, int(info["pid"])


def setup_taskchat(port: int, rooms: int, users: int) -> None:
    import requests
    from taskchat.reference_server.auth import make_token

    admin = {"Authorization": "Bearer " + make_token(SECRET, "bench-admin", admin=True)}
    with requests.Session() as s:
        for r in range(rooms):
            url = f"http://127.0.0.1:{port}/api/tasks"
            s.post(url, json={"taskId": f"bench-{r}", "title": f"Bench {r}"}, headers=admin,
                   timeout=10).raise_for_status()
            for u in range(users):
                s.put(f"{url}/bench-{r}/members/user-{r}-{u}", json={"role": "member"},
                      headers=admin, timeout=10).raise_for_status()


def start_baseline() -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    cmd = [sys.executable, "-m", "uvicorn", "benchmarks.baseline_sio:app", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--ws", "wsproto"]
    env = {**os.environ, "TASKCHAT_JWT_SECRET": SECRET}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _wait_http(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling", proc)
    return proc, port


NODE_DIR = ROOT / "benchmarks" / "node"
NODE_SERVER_DEPS = NODE_DIR / "node_modules" / "socket.io"


def start_node() -> tuple[subprocess.Popen[bytes], int]:
    env = {**os.environ, "TASKCHAT_JWT_SECRET": SECRET, "PORT": "0"}
    proc = subprocess.Popen(["node", "server.mjs"], cwd=NODE_DIR, env=env, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError("the Node baseline did not start")
    return proc, int(json.loads(line)["port"])


def run_load(port: int, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    from taskchat.reference_server.auth import make_token

    tokens = [[make_token(SECRET, f"user-{r}-{u}", name=f"User {r}-{u}") for u in range(args.users)]
              for r in range(args.rooms)]
    cfg = {"host": "127.0.0.1", "port": port, "pid": pid, "rooms": args.rooms,
           "users": args.users, "rate": args.rate, "duration": args.duration, "tokens": tokens}
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="taskchat-load-") as f:
        json.dump(cfg, f)  # a file: a thousand tokens are too long for a command line
        f.flush()
        out = subprocess.run([sys.executable, "-m", "benchmarks.server_bench", "--load-worker",
                              f.name], cwd=ROOT, capture_output=True, text=True,
                             timeout=args.duration + 120)
    if out.returncode != 0:
        raise RuntimeError(f"load worker failed:\n{out.stderr}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def report(name: str, r: dict[str, Any]) -> None:
    delivered = r["delivered"] or 1
    print(f"\n{name}")
    print(f"  connections            {r['connections']}")
    print(f"  sent / acked           {r['sent']} / {r['acked']} (refused {r['refused']})")
    print(f"  delivered / expected   {r['delivered']} / {r['expected']}"
          f"  (loss {r['expected'] - r['delivered']})")
    print(f"  deliveries per second  {r['delivered'] / r['elapsed_s']:.0f}")
    print(f"  server CPU / delivery  {r['server_cpu_s'] / delivered * 1e6:.1f} µs")
    print(f"  latency p50 / p99      {r['p50_ms']:.2f} / {r['p99_ms']:.2f} ms")
    print(f"  RSS per connection     {r['rss_per_conn'] / 1024:.1f} KB")


def cpu_per_delivery(r: dict[str, Any]) -> float:
    return float(r["server_cpu_s"]) / max(int(r["delivered"]), 1)


def ratios(t: dict[str, Any], b: dict[str, Any], name: str) -> None:
    print(f"  taskchat / {name}")
    print(f"    CPU per delivery  {cpu_per_delivery(t) / cpu_per_delivery(b):.2f}x"
          f"  ({cpu_per_delivery(t) * 1e6:.1f} vs {cpu_per_delivery(b) * 1e6:.1f} µs)")
    print(f"    latency p50       {t['p50_ms'] / max(b['p50_ms'], 1e-9):.2f}x"
          f"  ({t['p50_ms']:.2f} vs {b['p50_ms']:.2f} ms)")
    print(f"    latency p99       {t['p99_ms'] / max(b['p99_ms'], 1e-9):.2f}x"
          f"  ({t['p99_ms']:.2f} vs {b['p99_ms']:.2f} ms)")
    print(f"    RSS / connection  {t['rss_per_conn'] / max(b['rss_per_conn'], 1):.2f}x"
          f"  ({t['rss_per_conn'] / 1024:.1f} vs {b['rss_per_conn'] / 1024:.1f} KB)")
    print(f"    loss              {t['expected'] - t['delivered']} vs {b['expected'] - b['delivered']}")


def parse_point(text: str) -> tuple[int, int, float]:
    rooms, users, rate = text.lower().split("x")
    return int(rooms), int(users), float(rate)


def run_taskchat(point: argparse.Namespace) -> dict[str, Any]:
    """One run of the reference server, with the count of the rows it stored."""
    with tempfile.TemporaryDirectory(prefix="taskchat-bench-") as tmp:
        proc, port, pid = start_taskchat(Path(tmp), point)
        try:
            setup_taskchat(port, point.rooms, point.users)
            result = run_load(port, pid, point)
        finally:
            stop(proc)
        with sqlite3.connect(Path(tmp) / "bench.sqlite3") as db:
            result["stored"] = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    return result


def run_baseline(start: Any, point: argparse.Namespace) -> dict[str, Any]:
    proc, port = start()
    try:
        return run_load(port, proc.pid, point)
    finally:
        stop(proc)


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median CPU per delivery (a whole run, so its figures belong together)."""
    return sorted(runs, key=cpu_per_delivery)[len(runs) // 2]


def run_point(args: argparse.Namespace, rooms: int, users: int, rate: float) -> None:
    point = argparse.Namespace(**{**vars(args), "rooms": rooms, "users": users, "rate": rate})
    print(f"\n=== load: {rooms} rooms x {users} users x {rate:g} msg/s for {args.duration:g} s "
          f"(loopback; load in a separate process; {args.repeat} run(s) each, interleaved) ===")
    servers: list[tuple[str, str, Any]] = [
        ("taskchat", "taskchat reference server (trio, SQLite WAL, group commit, "
         f"synchronous={args.db_sync})", None),
    ]
    if args.skip_node:
        pass
    elif not NODE_SERVER_DEPS.is_dir():
        print("\nNode socket.io: skipped (run scripts/bootstrap: benchmarks/node is not installed)")
    else:
        servers.append(("node", "baseline: Node socket.io 4.x (no storage)", start_node))
    if not args.skip_baseline:
        servers.append(("sio", "baseline: python-socketio AsyncServer under uvicorn (no storage)",
                        start_baseline))
    runs: dict[str, list[dict[str, Any]]] = {key: [] for key, _t, _s in servers}
    for _ in range(args.repeat):  # interleaved, so that a busy machine's drift hits all alike
        for key, _title, start in servers:
            runs[key].append(run_taskchat(point) if start is None else run_baseline(start, point))
    results = {key: median_run(rs) for key, rs in runs.items()}
    for key, title, _start in servers:
        report(title, results[key])
        if len(runs[key]) > 1:
            each = ", ".join(f"{cpu_per_delivery(r) * 1e6:.1f}" for r in runs[key])
            print(f"  CPU / delivery per run {each} µs (the median run is shown)")
        if key == "taskchat":
            stored = min(r["stored"] for r in runs[key])
            complete = all(r["stored"] >= r["acked"] for r in runs[key])
            print(f"  stored messages        {stored} rows (fewest of the runs): "
                  + ("every acked message is stored" if complete else "MISSING ROWS"))
    print("\nratios (same run)")
    for key, name in (("node", "Node socket.io"), ("sio", "python-socketio")):
        if key in results:
            ratios(results["taskchat"], results[key], name)


def profile(args: argparse.Namespace, out_dir: Path) -> None:
    """The reference server once more at the first load point, under py-spy (sampling from
    outside, native frames off); prints the functions that take the most time themselves."""
    rooms, users, rate = parse_point(args.points.split(",")[0])
    point = argparse.Namespace(**{**vars(args), "rooms": rooms, "users": users, "rate": rate})
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / "taskchat.collapsed"
    with tempfile.TemporaryDirectory(prefix="taskchat-bench-") as tmp:
        proc, port, pid = start_taskchat(Path(tmp), point, profile_to=raw)
        try:
            setup_taskchat(port, rooms, users)
            result = run_load(port, pid, point)
        finally:
            os.kill(pid, signal.SIGTERM)  # the server; py-spy then writes its output and exits
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                stop(proc)
    report("profiled run (py-spy attached: slower than the runs above)", result)
    selfs: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        leaf = stack.rsplit(";", 1)[-1]
        selfs[leaf] = selfs.get(leaf, 0) + int(count)
        total += int(count)
    print(f"\nprofile: {raw} ({total} samples); the top functions by own time:")
    for leaf, n in sorted(selfs.items(), key=lambda kv: -kv[1])[:25]:
        print(f"  {100 * n / max(total, 1):5.1f}%  {leaf}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--points", default="20x10x1,50x20x1",
                   help="load points, comma-separated ROOMSxUSERSxRATE (default: %(default)s)")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of sending")
    p.add_argument("--repeat", type=int, default=1,
                   help="runs per server and load point, interleaved; the median run is shown")
    p.add_argument("--db-sync", choices=("full", "normal"), default="full")
    p.add_argument("--skip-baseline", action="store_true", help="skip python-socketio")
    p.add_argument("--skip-node", action="store_true", help="skip Node socket.io")
    p.add_argument("--profile", metavar="DIR", type=Path, default=None,
                   help="also profile the reference server with py-spy, output in DIR")
    p.add_argument("--load-worker", metavar="FILE", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.load_worker:
        load_worker(args.load_worker)
        return 0
    for text in args.points.split(","):
        run_point(args, *parse_point(text))
    if args.profile is not None:
        profile(args, args.profile)
    print("\ntargets at 20x10x1: CPU per delivery ≤ Node's (ratio ≤ 1.0), p50 and p99 ≤ Node's,"
          " ≤ 16 KB per connection, every acked message stored (synchronous=full);"
          " at 50x20x1: no loss and p99 ≤ Node's")
    return 0


if __name__ == "__main__":
    sys.exit(main())
