"""Fixtures of the wire-layer tests (taskchat.reference_server.transport / socketio_server)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import trio
from taskchat.reference_server.socketio_server import SocketIOServer, Sockets, TransportSettings


class WireServer:
    """A SocketIOServer run by trio in a background thread, on an ephemeral port."""

    def __init__(self, handler: Any, settings: TransportSettings, **kwargs: Any) -> None:
        self.handler = handler
        self.sockets = Sockets()
        if hasattr(handler, "server"):
            handler.server = self.sockets  # the handlers of these tests send through it
        self.server = SocketIOServer(settings, self.sockets, handler, **kwargs)
        self.port = 0
        self._token: trio.lowlevel.TrioToken | None = None
        self._scope: trio.CancelScope | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.stopped_in: float | None = None

    def _run(self) -> None:
        async def main() -> None:
            self._token = trio.lowlevel.current_trio_token()
            with trio.CancelScope() as scope:
                self._scope = scope
                async with trio.open_nursery() as nursery:
                    self.port = await nursery.start(self.server.serve)
                    self._ready.set()

        try:
            trio.run(main)
        except BaseException as exc:  # pragma: no cover - surfaced by start()/stop()
            self._error = exc
        finally:
            self._ready.set()

    def start(self) -> WireServer:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/socket.io/?EIO=4&transport=websocket"

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a synchronous function in the server's trio thread."""
        return trio.from_thread.run_sync(fn, *args, trio_token=self._token)

    def stop(self) -> float:
        """Cancel serve() (what SIGTERM does); the seconds until it returned."""
        if not self._thread.is_alive():
            return 0.0
        t0 = time.monotonic()
        assert self._scope is not None
        trio.from_thread.run_sync(self._scope.cancel, trio_token=self._token)
        self._thread.join(10)
        self.stopped_in = time.monotonic() - t0
        if self._error is not None:
            raise self._error
        return self.stopped_in


@pytest.fixture
def wire_server() -> Iterator[Callable[..., WireServer]]:
    """Factory: ``wire_server(handler, **settings)`` starts a server; all stop at teardown."""
    started: list[WireServer] = []

    def start(
        handler: Any, *, server_kwargs: dict[str, Any] | None = None, **settings: Any
    ) -> WireServer:
        settings.setdefault("port", 0)
        srv = WireServer(handler, TransportSettings(**settings), **(server_kwargs or {}))
        started.append(srv)
        return srv.start()

    yield start
    for srv in started:
        srv.stop()
