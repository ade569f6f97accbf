"""The reference server's Socket.IO interface: what the chat app codes against.

``SocketIOServer`` glues the sans-IO Engine.IO / Socket.IO state machines
(``engineio.py``, ``socketio_protocol.py``) to the trio transport (``transport.py``).
The chat app implements ``Handler`` (and optionally ``HttpHandler``) and calls ``emit`` /
``disconnect``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import trio


@dataclass(frozen=True)
class TransportSettings:
    host: str = "127.0.0.1"
    port: int = 9553
    ping_interval: float = 25.0  # seconds
    ping_timeout: float = 20.0  # seconds
    max_payload: int = 1_000_000
    connect_timeout: float = 45.0
    send_queue_limit: int = 1024  # frames queued per socket before it is dropped as too slow
    namespaces: tuple[str, ...] = ("/",)


@dataclass(frozen=True)
class SocketRef:
    """One Socket.IO socket (a namespace connection)."""

    sid: str  # the Socket.IO sid (what the CONNECT reply carries)
    namespace: str
    transport: str  # "websocket" | "polling" (at connect time)
    remote: str  # "ip:port"


class Ack:
    """Answers one ack id, exactly once: a second call raises ``RuntimeError``."""

    __slots__ = ("_send", "answered", "id")

    def __init__(self, ack_id: int, send: Callable[[int, tuple[object, ...]], None]) -> None:
        self.id = ack_id
        self._send = send
        self.answered = False

    def __call__(self, *args: object) -> None:
        if self.answered:
            raise RuntimeError(f"ack {self.id} was already answered")
        self.answered = True
        self._send(self.id, args)

    def __repr__(self) -> str:
        return f"Ack(id={self.id}, answered={self.answered})"


class Handler(Protocol):
    """Implemented by the chat app."""

    async def on_connect(self, sock: SocketRef, auth: object) -> dict | None:
        """None accepts; a dict refuses, sent as the CONNECT_ERROR payload."""
        ...

    async def on_event(
        self, sock: SocketRef, event: str, args: list[object], ack: Ack | None
    ) -> None: ...

    async def on_disconnect(self, sock: SocketRef, reason: str) -> None: ...


class HttpHandler(Protocol):
    """Serves every request whose path is not under /socket.io/."""

    async def __call__(
        self, method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]: ...


class SocketIOServer:
    def __init__(
        self, settings: TransportSettings, handler: Handler, http: HttpHandler | None = None
    ) -> None:
        self.settings = settings
        self.handler = handler
        self.http = http

    def emit(self, sids: Iterable[str], event: str, *args: object) -> None:
        """Encode once; queue the same frame bytes for every socket. Never blocks."""
        raise NotImplementedError

    def disconnect(self, sid: str) -> None:
        """Server-side disconnect of one socket (sends a Socket.IO DISCONNECT)."""
        raise NotImplementedError

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen; ``task_status.started(bound_port)``; run until cancelled."""
        raise NotImplementedError

    @property
    def connected(self) -> int:
        """Number of connected Socket.IO sockets."""
        return 0
