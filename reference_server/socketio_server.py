"""The reference server's Socket.IO interface: what the chat app codes against.

``SocketIOServer`` glues the sans-IO Engine.IO / Socket.IO state machines
(``engineio.py``, ``socketio_protocol.py``) to the trio transport (``transport.py``).
The chat app implements ``Handler`` (and optionally ``HttpHandler``) and calls ``emit`` /
``disconnect``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import trio

from . import engineio as eio
from . import socketio_protocol as sio
from .engineio import OutPacket
from .transport import (
    CLOSE_TIMEOUT,
    REASON_SHUTDOWN,
    WRITE_TIMEOUT,
    EngineConnection,
    Signal,
    Transport,
)


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


@dataclass(frozen=True, slots=True)
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
        self._send(self.id, args)  # TypeError (not JSON-encodable) leaves it unanswered
        self.answered = True

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


# -- the server -----------------------------------------------------------------------------

# why a socket was disconnected (the ``reason`` of ``Handler.on_disconnect``)
REASON_CLIENT_DISCONNECT = sio.REASON_CLIENT_DISCONNECT  # the client left the namespace
REASON_SERVER_DISCONNECT = sio.REASON_SERVER_DISCONNECT  # SocketIOServer.disconnect()
REASON_TRANSPORT_CLOSE = eio.REASON_TRANSPORT_CLOSE  # the client closed the connection
REASON_TRANSPORT_ERROR = eio.REASON_TRANSPORT_ERROR  # e.g. two concurrent polls
REASON_PARSE_ERROR = eio.REASON_PARSE_ERROR  # a malformed Engine.IO / Socket.IO packet
REASON_PING_TIMEOUT = eio.REASON_PING_TIMEOUT  # no PONG within ping_timeout
REASON_SLOW_CONSUMER = eio.REASON_SLOW_CONSUMER  # send queue over its limit / write blocked
REASON_PAYLOAD_TOO_LARGE = eio.REASON_PAYLOAD_TOO_LARGE  # a message over max_payload
REASON_SHUTDOWN = REASON_SHUTDOWN  # serve() was cancelled

INBOX_LIMIT = 256  # events waiting for one socket's handler before its connection stops reading
REFUSAL_ON_ERROR = {"message": "Internal server error"}

_CONNECTING, _CONNECTED, _CLOSED = 0, 1, 2

log = logging.getLogger("taskchat.reference_server.socketio")


class _Socket:
    """Server-side state of one Socket.IO socket."""

    __slots__ = (
        "app",
        "conn",
        "inbox",
        "namespace",
        "opened_at",
        "pending",
        "reason",
        "ref",
        "server",
        "sid",
        "signal",
        "state",
    )

    def __init__(self, server: SocketIOServer, app: _SioApp, ref: SocketRef) -> None:
        self.server = server
        self.app = app
        self.conn = app.conn
        self.ref = ref
        self.sid = ref.sid
        self.namespace = ref.namespace
        self.state = _CONNECTING
        # events for the handler loop, which swaps the list out (a deque costs 600 bytes)
        self.inbox: list[tuple[str, list[object], Ack | None]] = []
        self.signal = Signal()
        self.pending: list[OutPacket] = []  # emitted while on_connect runs: sent after CONNECT
        self.reason: str | None = None
        self.opened_at = trio.current_time()

    def answer(self, ack_id: int, args: tuple[object, ...]) -> None:
        self.app.sio.send_ack(self.namespace, ack_id, args)

    def end(self, reason: str) -> None:
        """The socket is disconnected (its handler loop finishes, then on_disconnect)."""
        if self.state == _CLOSED:
            return
        server = self.server
        if self.state == _CONNECTED:
            server._connected -= 1
        self.state = _CLOSED
        self.reason = reason
        self.pending = []
        if server._sockets.get(self.sid) is self:
            del server._sockets[self.sid]
        self.signal.set()


class _SioApp:
    """Socket.IO on one Engine.IO session (an ``EngineApp`` for the transport)."""

    __slots__ = ("_capacity", "_capacity_waiting", "conn", "server", "sio", "sockets")

    def __init__(self, server: SocketIOServer, conn: EngineConnection) -> None:
        self.server = server
        self.conn = conn
        self.sio = sio.SocketIOConnection(
            conn.core,
            trio.current_time(),
            namespaces=server.settings.namespaces,
            connect_timeout=server.settings.connect_timeout,
            send=conn.send_many,
        )
        self.sockets: dict[str, _Socket] = {}
        self._capacity = Signal()
        self._capacity_waiting = False

    def receive(self, data: str | bytes) -> None:
        for ev in self.sio.receive(data):
            kind = type(ev)
            if kind is sio.EventReceived:
                sock = self.sockets.get(ev.namespace)
                if sock is None:
                    continue
                ack = None if ev.ack_id is None else Ack(ev.ack_id, sock.answer)
                sock.inbox.append((ev.event, ev.args, ack))
                sock.signal.set()
            elif kind is sio.ConnectRequest:
                self._connect(ev.namespace, ev.auth)
            elif kind is sio.ClientDisconnected:
                sock = self.sockets.pop(ev.namespace, None)
                if sock is not None:
                    sock.end(REASON_CLIENT_DISCONNECT)

    def _connect(self, namespace: str, auth: object) -> None:
        server = self.server
        conn = self.conn
        ref = SocketRef(eio.new_sid(), namespace, conn.transport_name, conn.remote)
        sock = _Socket(server, self, ref)
        self.sockets[namespace] = sock
        server._sockets[ref.sid] = sock
        conn.transport.nursery.start_soon(server._run_socket, sock, auth)

    def closed(self, reason: str) -> None:
        for sock in self.sockets.values():
            sock.end(reason)
        self.sockets.clear()
        self._capacity.set()

    def next_deadline(self) -> float:
        return self.sio.next_deadline()

    def handle_timers(self, now: float) -> None:
        self.sio.handle_timers(now)

    @property
    def backlogged(self) -> bool:
        return any(len(sock.inbox) >= INBOX_LIMIT for sock in self.sockets.values())

    async def wait_capacity(self) -> None:
        try:
            while self.backlogged and not self.conn.core.closed:
                self._capacity_waiting = True
                await self._capacity.wait()
        finally:
            self._capacity_waiting = False


class SocketIOServer:
    """The reference server's Socket.IO endpoint (and its HTTP side).

    ``write_timeout``, ``extra_apps`` and ``cors_origin`` are for the protocol test mode and
    the tests; the chat app needs none of them.
    """

    def __init__(
        self,
        settings: TransportSettings,
        handler: Handler,
        http: HttpHandler | None = None,
        *,
        write_timeout: float = WRITE_TIMEOUT,
        extra_apps: dict[str, Callable[[EngineConnection], object]] | None = None,
        cors_origin: str | None = None,
    ) -> None:
        self.settings = settings
        self.handler = handler
        self.http = http
        self._sockets: dict[str, _Socket] = {}
        self._connected = 0
        self._transport = Transport(
            host=settings.host,
            port=settings.port,
            apps={"/socket.io/": self._make_app, **(extra_apps or {})},  # type: ignore[dict-item]
            http=http,
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            max_payload=settings.max_payload,
            queue_limit=settings.send_queue_limit,
            write_timeout=write_timeout,
            cors_origin=cors_origin,
        )

    def _make_app(self, conn: EngineConnection) -> _SioApp:
        return _SioApp(self, conn)

    # -- the interface --------------------------------------------------------------------

    def emit(self, sids: Iterable[str], event: str, *args: object) -> None:
        """Encode once; queue the same frame bytes for every socket. Never blocks; unknown or
        closed sids are ignored. Raises TypeError if the arguments are not JSON-encodable."""
        if isinstance(sids, str):
            sids = (sids,)
        get = self._sockets.get
        root: tuple[OutPacket, ...] | None = None
        others: dict[str, tuple[OutPacket, ...]] | None = None
        for sid in sids:
            sock = get(sid)
            if sock is None:
                continue
            ns = sock.namespace
            if ns == "/":
                if root is None:
                    root = sio.encode_event("/", event, args)
                pkts = root
            else:
                if others is None:
                    others = {}
                pkts = others.get(ns)  # type: ignore[assignment]
                if pkts is None:
                    pkts = others[ns] = sio.encode_event(ns, event, args)
            if sock.state == _CONNECTED:
                sock.conn.send_many(pkts)
            else:  # on_connect still runs: sent after the CONNECT reply, within the same bound
                sock.pending.extend(pkts)
                if len(sock.pending) > self.settings.send_queue_limit:
                    sock.conn.core.abort(REASON_SLOW_CONSUMER)
                    sock.conn.kick()

    def disconnect(self, sid: str) -> None:
        """Server-side disconnect of one socket: sends DISCONNECT; the connection closes when it
        carries no other namespace."""
        sock = self._sockets.get(sid)
        if sock is None:
            return
        app = sock.app
        app.sio.disconnect(sock.namespace)
        if app.sockets.get(sock.namespace) is sock:
            del app.sockets[sock.namespace]
        sock.end(REASON_SERVER_DISCONNECT)
        if not app.sockets:
            app.conn.close(REASON_SERVER_DISCONNECT, flush=True)

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen; ``task_status.started(bound_port)``; run until cancelled (which closes every
        session: close frames go out, ``on_disconnect`` runs, within about a second)."""
        await self._transport.serve(task_status=task_status)

    @property
    def connected(self) -> int:
        """Number of connected Socket.IO sockets."""
        return self._connected

    # -- one socket's handler loop --------------------------------------------------------

    async def _run_socket(self, sock: _Socket, auth: object) -> None:
        """on_connect, then on_event one at a time in arrival order, then on_disconnect."""
        handler = self.handler
        ref = sock.ref
        app = sock.app
        accepted = False
        cancelled = False
        try:
            try:
                refusal = await handler.on_connect(ref, auth)
            except Exception:
                log.exception("on_connect failed sid=%s", ref.sid)
                refusal = REFUSAL_ON_ERROR
            if refusal is not None:
                app.sio.refuse(sock.namespace, refusal)
                if app.sockets.get(sock.namespace) is sock:
                    del app.sockets[sock.namespace]
                sock.end("refused")
                # the app logs the connection events at info, with the user and the refusal code
                log.debug(
                    "connect_refused sid=%s nsp=%s remote=%s",
                    ref.sid,
                    ref.namespace,
                    ref.remote,
                    extra={
                        "event": "connect_refused",
                        "sid": ref.sid,
                        "nsp": ref.namespace,
                        "remote": ref.remote,
                    },
                )
                return
            accepted = True
            if sock.state == _CONNECTING and app.sio.accept(sock.namespace, ref.sid):
                sock.state = _CONNECTED
                self._connected += 1
                if sock.pending:
                    sock.conn.send_many(sock.pending)
                    sock.pending = []
                log.debug(
                    "connect sid=%s nsp=%s transport=%s remote=%s",
                    ref.sid,
                    ref.namespace,
                    ref.transport,
                    ref.remote,
                    extra={
                        "event": "connect",
                        "sid": ref.sid,
                        "nsp": ref.namespace,
                        "transport": ref.transport,
                        "remote": ref.remote,
                    },
                )
            elif sock.state != _CLOSED:
                sock.end(sock.app.conn.core.close_reason or REASON_TRANSPORT_CLOSE)
            while True:
                batch = sock.inbox
                if batch:
                    sock.inbox = []
                    if app._capacity_waiting:
                        app._capacity.set()
                    for event, args, ack in batch:
                        try:
                            await handler.on_event(ref, event, args, ack)
                        except Exception:
                            log.exception("on_event failed sid=%s event=%r", ref.sid, event)
                elif sock.state == _CLOSED:
                    break
                else:
                    await sock.signal.wait()
        except trio.Cancelled:
            cancelled = True
            raise
        except Exception:  # pragma: no cover - a bug ends this socket, not the server
            log.exception("socket loop failed sid=%s", ref.sid)
        finally:
            if sock.state != _CLOSED:
                sock.end(REASON_SHUTDOWN if cancelled else REASON_TRANSPORT_CLOSE)
            if accepted:
                reason = sock.reason or REASON_SHUTDOWN
                log.debug(
                    "disconnect sid=%s nsp=%s reason=%r duration=%.3fs",
                    ref.sid,
                    ref.namespace,
                    reason,
                    trio.current_time() - sock.opened_at,
                    extra={
                        "event": "disconnect",
                        "sid": ref.sid,
                        "nsp": ref.namespace,
                        "reason": reason,
                        "remote": ref.remote,
                    },
                )
                with trio.CancelScope(shield=cancelled) as scope:
                    if cancelled:
                        scope.deadline = trio.current_time() + CLOSE_TIMEOUT
                    try:
                        await handler.on_disconnect(ref, reason)
                    except Exception:
                        log.exception("on_disconnect failed sid=%s", ref.sid)
