"""Start the reference server as a subprocess, for the tools' "no URL given" default.

A subprocess, not a thread: the server runs on trio while the Locust side is monkey-patched by
gevent, and the conformance suite must treat the server as a black box it reaches only over the
network (the durability check kills it with SIGKILL). The server reports its bound port through
``--ready-file``, so port 0 can be used and parallel runs never collide.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from taskchat.client.tokens import mint_token

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


class EmbeddedServerError(RuntimeError):
    """The embedded server did not start; the message carries its output."""


@dataclass
class EmbeddedServer:
    """A running reference server on 127.0.0.1 with its own SQLite file and JWT secret."""

    workdir: Path
    jwt_secret: str
    extra_args: tuple[str, ...] = ()
    port: int = 0
    url: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def db_path(self) -> Path:
        return self.workdir / "chat.sqlite3"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def admin_token(self) -> str:
        return mint_token(self.jwt_secret, "taskchat-admin", name="Toolkit Admin", admin=True, ttl=86400)

    def command(self) -> list[str]:
        ready = self.workdir / "ready.json"
        return [
            sys.executable, "-m", "taskchat", "serve",
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--db", str(self.db_path),
            f"--jwt-secret={self.jwt_secret}",  # a secret may start with "-"
            "--ready-file", str(ready),
            *self.extra_args,
        ]  # fmt: skip

    def start(self) -> None:
        ready = self.workdir / "ready.json"
        ready.unlink(missing_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmbeddedServerError(
                    f"the reference server exited with {self.process.returncode}:\n{self._tail()}"
                )
            try:
                info = json.loads(ready.read_text())
            except (FileNotFoundError, ValueError):
                time.sleep(0.02)  # polling a file the child writes; no event to wait on
                continue
            self.url = str(info["url"])
            self.port = int(self.url.rsplit(":", 1)[1])
            return
        self.stop()
        raise EmbeddedServerError(f"the reference server was not ready in {READY_TIMEOUT} s:\n{self._tail()}")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        """Stop the server (SIGTERM: graceful) and return its exit status."""
        proc, self.process = self.process, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def restart(self, *, kill: bool = True) -> None:
        """Kill (SIGKILL by default, as a crash would) and start again on the same port and file."""
        self.stop(signal.SIGKILL if kill else signal.SIGTERM)
        self.start()

    def _tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no output)"


@contextmanager
def embedded_server(
    *,
    jwt_secret: str | None = None,
    extra_args: Sequence[str] = (),
    workdir: Path | None = None,
) -> Iterator[EmbeddedServer]:
    """A reference server for the duration of the block, in a temporary directory unless given."""
    with tempfile.TemporaryDirectory(prefix="taskchat-") as tmp:
        server = EmbeddedServer(
            workdir=Path(workdir or tmp),
            jwt_secret=jwt_secret or secrets.token_hex(32),  # never starts with "-"
            extra_args=tuple(extra_args),
        )
        server.workdir.mkdir(parents=True, exist_ok=True)
        server.start()
        try:
            yield server
        finally:
            server.stop()
