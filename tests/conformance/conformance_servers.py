"""Servers for the conformance suite's own tests: the reference server with one rule broken
(``conformance_faulty_server.py``), started like the embedded server but through the patching script."""

from __future__ import annotations

import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from taskchat.embedded import EmbeddedServer

HERE = Path(__file__).resolve().parent


@dataclass
class FaultyServer(EmbeddedServer):
    fault: str = ""

    def command(self) -> list[str]:
        serve = super().command()
        start = serve.index("serve")
        return [sys.executable, str(HERE / "conformance_faulty_server.py"), self.fault, *serve[start:]]


@contextmanager
def faulty_server(fault: str) -> Iterator[FaultyServer]:
    with tempfile.TemporaryDirectory(prefix="taskchat-faulty-") as tmp:
        # hex: a secret starting with "-" (token_urlsafe can) reads as an option to `serve`
        server = FaultyServer(workdir=Path(tmp), jwt_secret=secrets.token_hex(32), fault=fault)
        server.start()
        try:
            yield server
        finally:
            server.stop()
