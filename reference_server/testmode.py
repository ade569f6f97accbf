"""The protocol test mode: what the official Socket.IO protocol test suites expect of a server.

- ``/engine.io/``: a raw Engine.IO echo server (every message sent back, binary too), for
  https://github.com/socketio/engine.io-protocol (``test-suite/``).
- ``/socket.io/``: on connect, emits ``auth`` with the handshake's auth; ``message`` is answered
  by ``message-back`` with the same arguments; ``message-with-ack`` is acked with its arguments;
  the ``/custom`` namespace is accepted too (it only emits ``auth``), for
  https://github.com/socketio/socket.io-protocol (``test-suite/``).
- pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1,000,000, connect timeout 1 s, CORS ``*``
  (the suites' reference configuration).

Run it alone with ``python -m taskchat.reference_server.testmode [--host H] [--port 3000]``.
"""

from __future__ import annotations

import argparse
import logging
import math

import trio

from .config import TransportSettings
from .engineio import message_packet
from .socketio_server import Ack, SocketIOServer, SocketRef, Sockets
from .transport import EngineConnection


def test_settings(host: str, port: int) -> TransportSettings:
    """The official suites' reference configuration."""
    return TransportSettings(
        host=host,
        port=port,
        ping_interval=0.3,
        ping_timeout=0.2,
        max_payload=1_000_000,
        connect_timeout=1.0,
        namespaces=("/", "/custom"),
        cors_origin="*",
    )


class _EngineEcho:
    """The raw Engine.IO echo app at /engine.io/."""

    __slots__ = ("conn",)

    backlogged = False

    def __init__(self, conn: EngineConnection) -> None:
        self.conn = conn

    def receive(self, data: str | bytes) -> None:
        self.conn.send(message_packet(data))

    def closed(self, reason: str) -> None:
        pass

    def next_deadline(self) -> float:
        return math.inf

    def handle_timers(self, now: float) -> None:
        pass

    async def wait_capacity(self) -> None:  # pragma: no cover - never backlogged
        pass


GREETING_DELAY = 0.02  # see _TestHandler.on_connect


class _TestHandler:
    def __init__(self, sockets: Sockets, nursery: trio.Nursery) -> None:
        self.sockets = sockets
        self.nursery = nursery

    async def on_connect(self, sock: SocketRef, auth: object) -> dict | None:
        # The suite reads one WebSocket message per event-loop turn (it re-arms its listener
        # after each): Node's server sends this "auth" event in a later write than the CONNECT
        # reply, and a client that reads both in one TCP read would miss it. So send it a
        # moment after the reply, as a separate write.
        self.nursery.start_soon(self._greet, sock.sid, auth)
        return None

    async def _greet(self, sid: str, auth: object) -> None:
        await trio.sleep(GREETING_DELAY)
        self.sockets.emit([sid], "auth", auth)

    def on_event(self, sock: SocketRef, event: str, args: list[object], ack: Ack | None) -> None:
        if sock.namespace != "/":
            return
        if event == "message":
            self.sockets.emit([sock.sid], "message-back", *args)
        elif event == "message-with-ack" and ack is not None:
            ack(*args)

    def backlogged(self, sock: SocketRef) -> bool:
        return False

    async def wait_capacity(self, sock: SocketRef) -> None:  # pragma: no cover - never
        pass

    async def on_disconnect(self, sock: SocketRef, reason: str) -> None:
        pass


async def serve_test_mode(
    host: str, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve the protocol test mode until cancelled; ``task_status.started(bound_port)``."""
    async with trio.open_nursery() as nursery:
        sockets = Sockets()
        server = SocketIOServer(
            test_settings(host, port),
            sockets,
            _TestHandler(sockets, nursery),
            extra_apps={"/engine.io/": _EngineEcho},
        )
        await server.serve(task_status=task_status)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        trio.run(serve_test_mode, args.host, args.port)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
