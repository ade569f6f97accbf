"""Start the reference server as users and tools do — ``taskchat serve`` in a subprocess — and
wait for its ready file (event-driven, bounded), then stop it by its pid."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SECRET = "integration-secret-0123456789abcdef"
# until the lead's taskchat/__main__.py exists everywhere, call the CLI's main directly
CLI = [sys.executable, "-c", "import sys; from taskchat.cli import main; sys.exit(main())"]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    db: str


def start(tmp: Path, db: str | None = None, *extra: str, log: Path | None = None) -> Server:
    """``log``: the server's stderr goes to that file instead of a pipe nobody reads while it
    runs (a chatty server would block on a full pipe)."""
    ready = tmp / f"ready-{time.monotonic_ns()}.json"
    db = db or str(tmp / "chat.sqlite3")
    args = [*CLI, "serve", "--port", "0", "--ready-file", str(ready), "--db", db,
            "--jwt-secret", SECRET, "--log-level", "warning", *extra]
    stderr = log.open("wb") if log is not None else subprocess.PIPE
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr)
    if log is not None:
        stderr.close()  # type: ignore[union-attr]  # the child has its own copy
    deadline = time.monotonic() + 20
    while not ready.exists():
        if proc.poll() is not None:
            why = proc.stderr.read().decode() if proc.stderr else log.read_text()  # type: ignore[union-attr]
            raise RuntimeError(f"server exited: {why}")
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError("the server did not become ready")
        time.sleep(0.02)
    info = json.loads(ready.read_text())
    assert info["pid"] == proc.pid
    line = proc.stdout.readline().decode()  # type: ignore[union-attr]
    assert line == f"taskchat: listening on {info['url']}\n", line
    return Server(info["url"], proc, db)


def stop(server: Server, sig: int = signal.SIGTERM) -> float:
    """Signal the server and wait for it to exit; returns how long that took."""
    t0 = time.monotonic()
    if server.proc.poll() is None:
        os.kill(server.proc.pid, sig)
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
    for stream in (server.proc.stdout, server.proc.stderr):
        if stream:
            stream.close()
    return time.monotonic() - t0


@contextmanager
def running(tmp: Path, *extra: str) -> Iterator[Server]:
    server = start(tmp, None, *extra)
    try:
        yield server
    finally:
        stop(server, signal.SIGKILL)
