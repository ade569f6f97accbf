"""The reference server's Socket.IO interface: what the chat app codes against.

``SocketIOServer`` glues the sans-IO Engine.IO / Socket.IO state machines
(``engineio.py``, ``socketio_protocol.py``) to the trio shell (``transport/``).
The chat app implements ``Handler`` (and optionally ``HttpHandler``) and sends through
``Sockets`` (``emit``, ``disconnect``), which the composition root hands to both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

import trio

from . import engineio as eio
from . import socketio_protocol as sio
from .config import TransportSettings
from .engineio import OutPacket
from .transport import (
    CLOSE_TIMEOUT,
    REASON_SHUTDOWN,
    AppFactory,
    EngineConnection,
    HttpCallback,
    Signal,
    Transport,
)

__all__ = [
    "REASON_SHUTDOWN",
    "Ack",
    "Handler",
    "HttpHandler",
    "SocketIOServer",
    "SocketRef",
    "Sockets",
    "TransportSettings",
]


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
    """Implemented by the chat app.

    ``on_event`` is synchronous and called from the connection's reader, in arrival order, as
    each event arrives (no task hand-off per event): it must not block; slow work goes to a
    task of the handler's own. While ``backlogged`` says a socket's requests should wait, its
    connection stops reading until ``wait_capacity`` returns."""

    async def on_connect(self, sock: SocketRef, auth: object) -> dict | None:
        """None accepts; a dict refuses, sent as the CONNECT_ERROR payload."""
        ...

    def on_event(self, sock: SocketRef, event: str, args: list[object], ack: Ack | None) -> None:
        ...

    def backlogged(self, sock: SocketRef) -> bool: ...

    async def wait_capacity(self, sock: SocketRef) -> None: ...

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
# and REASON_SHUTDOWN (imported above): serve() was cancelled

INBOX_LIMIT = 256  # events waiting for on_connect to finish before the connection stops reading
REFUSAL_ON_ERROR = {"message": "Internal server error"}

log = logging.getLogger("taskchat.reference_server.socketio")


class _Socket:
    """One Socket.IO socket's handler side. Its protocol state (connecting, connected, the
    acks it owes) is the sans-IO layer's; this holds what the handler has been told."""

    __slots__ = (
        "accepted",
        "app",
        "closed",
        "connecting",
        "greeted",
        "inbox",
        "namespace",
        "opened_at",
        "reason",
        "ref",
        "sid",
    )

    def __init__(self, app: _SioApp, ref: SocketRef) -> None:
        self.app = app
        self.ref = ref
        self.sid = ref.sid
        self.namespace = ref.namespace
        self.connecting = True  # on_connect runs: events wait in the inbox
        self.greeted = False  # on_connect accepted: on_disconnect is owed
        self.accepted = False  # the CONNECT reply went out
        self.closed = False
        self.inbox: list[tuple[str, list[object], Ack | None]] = []
        self.reason: str | None = None
        self.opened_at = trio.current_time()

    def answer(self, ack_id: int, args: tuple[object, ...]) -> None:
        self.app.sio.send_ack(self.namespace, ack_id, args)

    def end(self, reason: str) -> None:
        """The socket is disconnected; the handler hears of it (on_disconnect) once it was
        greeted and on_connect has finished."""
        if self.closed:
            return
        self.closed = True
        self.reason = reason
        self.inbox = []
        self.app.forget(self)
        if self.greeted and not self.connecting:
            self.app.conn.start_soon(self.app.server.run_disconnect, self)


class _SioApp:
    """Socket.IO on one Engine.IO session (an ``EngineApp`` for the transport)."""

    __slots__ = ("_capacity", "conn", "handler", "server", "sio", "sockets")

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
        self.handler = server.handler
        self._capacity = Signal()  # an inbox was taken, or the session closed

    def receive(self, data: str | bytes) -> None:
        for ev in self.sio.receive(data):
            if isinstance(ev, sio.EventReceived):
                sock = self.sockets.get(ev.namespace)
                if sock is None:
                    continue
                ack = None if ev.ack_id is None else Ack(ev.ack_id, sock.answer)
                if sock.connecting:
                    sock.inbox.append((ev.event, ev.args, ack))
                else:
                    self.dispatch(sock, ev.event, ev.args, ack)
            elif isinstance(ev, sio.ConnectRequest):
                self._connect(ev.namespace, ev.auth)
            elif isinstance(ev, sio.ClientDisconnected):
                sock = self.sockets.get(ev.namespace)
                if sock is not None:
                    sock.end(REASON_CLIENT_DISCONNECT)

    def _connect(self, namespace: str, auth: object) -> None:
        conn = self.conn
        ref = SocketRef(eio.new_sid(), namespace, conn.transport_name, conn.remote)
        sock = _Socket(self, ref)
        self.sockets[namespace] = sock
        self.server.sockets.add(sock)
        conn.start_soon(self.server.run_connect, sock, auth)

    def dispatch(self, sock: _Socket, event: str, args: list[object], ack: Ack | None) -> None:
        try:
            self.handler.on_event(sock.ref, event, args, ack)
        except Exception:
            log.exception("on_event failed sid=%s event=%r", sock.sid, event)

    def connected(self, sock: _Socket) -> None:
        """on_connect finished: what arrived meanwhile goes to the handler, in order."""
        sock.connecting = False
        inbox, sock.inbox = sock.inbox, []
        for event, args, ack in inbox:
            if sock.closed:
                break
            self.dispatch(sock, event, args, ack)
        self._capacity.set()

    def send(self, namespace: str, pkts: tuple[OutPacket, ...]) -> None:
        """The route out for a socket's events (acks take the same one, in the layer)."""
        if not self.sio.send(namespace, pkts) and self.conn.core.closed:
            self.conn.abort(eio.REASON_SLOW_CONSUMER)  # wakes the session (no-op if closed)

    def forget(self, sock: _Socket) -> None:
        if self.sockets.get(sock.namespace) is sock:
            del self.sockets[sock.namespace]
        self.server.sockets.remove(sock)

    def closed(self, reason: str) -> None:
        for sock in list(self.sockets.values()):
            sock.end(reason)
        self._capacity.set()

    def next_deadline(self) -> float:
        return self.sio.next_deadline()

    def handle_timers(self, now: float) -> None:
        self.sio.handle_timers(now)

    @property
    def backlogged(self) -> bool:
        for sock in self.sockets.values():
            if len(sock.inbox) >= INBOX_LIMIT or (
                not sock.connecting and self.handler.backlogged(sock.ref)
            ):
                return True
        return False

    async def wait_capacity(self) -> None:
        while not self.conn.core.closed:
            sock = next((s for s in self.sockets.values() if len(s.inbox) >= INBOX_LIMIT), None)
            if sock is not None:
                await self._capacity.wait()  # on_connect still runs
                continue
            sock = next(
                (s for s in self.sockets.values()
                 if not s.connecting and self.handler.backlogged(s.ref)),
                None,
            )
            if sock is None:
                return
            await self.handler.wait_capacity(sock.ref)


class Sockets:
    """The connected sockets by sid, and the one route out to them (``emit``, ``disconnect``).

    Built first and handed to both the handler (which sends through it) and the server (which
    fills it), so that neither is wired to the other after construction."""

    def __init__(self) -> None:
        self._by_sid: dict[str, _Socket] = {}
        self._connected = 0

    def emit(self, sids: Iterable[str], event: str, *args: object) -> None:
        """Encode once; send the same packets (and frame bytes) to every socket. Never blocks;
        unknown or closed sids are ignored. Raises TypeError if the arguments are not
        JSON-encodable."""
        if isinstance(sids, str):
            sids = (sids,)
        get = self._by_sid.get
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
            sock.app.send(ns, pkts)

    def disconnect(self, sid: str) -> None:
        """Server-side disconnect of one socket: sends DISCONNECT; the connection closes when it
        carries no other namespace."""
        sock = self._by_sid.get(sid)
        if sock is None:
            return
        app = sock.app
        app.sio.disconnect(sock.namespace)
        sock.end(REASON_SERVER_DISCONNECT)
        if not app.sockets:
            app.conn.close(REASON_SERVER_DISCONNECT, flush=True)

    @property
    def connected(self) -> int:
        """Number of connected Socket.IO sockets."""
        return self._connected

    def add(self, sock: _Socket) -> None:
        self._by_sid[sock.sid] = sock

    def accepted(self, sock: _Socket) -> None:
        sock.accepted = True
        self._connected += 1

    def remove(self, sock: _Socket) -> None:
        if self._by_sid.pop(sock.sid, None) is sock and sock.accepted:
            self._connected -= 1


class SocketIOServer:
    """The reference server's Socket.IO endpoint (and its HTTP side).

    ``extra_apps`` (more Engine.IO paths) is for the protocol test mode."""

    def __init__(
        self,
        settings: TransportSettings,
        sockets: Sockets,
        handler: Handler,
        http: HttpHandler | None = None,
        *,
        extra_apps: dict[str, AppFactory] | None = None,
    ) -> None:
        self.settings = settings
        self.sockets = sockets
        self.handler = handler
        callback: HttpCallback | None = http
        self._transport = Transport(
            settings, {"/socket.io/": self._make_app, **(extra_apps or {})}, callback
        )

    def _make_app(self, conn: EngineConnection) -> _SioApp:
        return _SioApp(self, conn)

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen; ``task_status.started(bound_port)``; run until cancelled (which closes every
        session: close frames go out, ``on_disconnect`` runs, within about a second)."""
        await self._transport.serve(task_status=task_status)

    # -- a socket's handler tasks: on_connect, on_disconnect ------------------------------

    async def run_connect(self, sock: _Socket, auth: object) -> None:
        """on_connect, then the CONNECT reply (or CONNECT_ERROR); events are dispatched from
        then on by the connection's reader, with no task of their own."""
        handler = self.handler
        ref = sock.ref
        app = sock.app
        try:
            try:
                refusal = await handler.on_connect(ref, auth)
            except Exception:
                log.exception("on_connect failed sid=%s", ref.sid)
                refusal = REFUSAL_ON_ERROR
        except trio.Cancelled:
            sock.connecting = False
            sock.end(REASON_SHUTDOWN)  # not greeted: nothing owed to the handler
            raise
        if refusal is not None:
            sock.connecting = False
            app.sio.refuse(sock.namespace, refusal)
            sock.end("refused")
            # the app logs the connection events at info, with the user and the refusal code
            log.debug(
                "connect_refused sid=%s nsp=%s remote=%s", ref.sid, ref.namespace, ref.remote,
                extra={"event": "connect_refused", "sid": ref.sid, "nsp": ref.namespace,
                       "remote": ref.remote},
            )
            return
        sock.greeted = True
        if not sock.closed and app.sio.accept(sock.namespace, ref.sid):
            self.sockets.accepted(sock)
            log.debug(
                "connect sid=%s nsp=%s transport=%s remote=%s",
                ref.sid, ref.namespace, ref.transport, ref.remote,
                extra={"event": "connect", "sid": ref.sid, "nsp": ref.namespace,
                       "transport": ref.transport, "remote": ref.remote},
            )
            app.connected(sock)
            return
        sock.connecting = False
        if sock.closed:
            await self.run_disconnect(sock)  # it went away while on_connect ran
        else:
            sock.end(app.conn.core.close_reason or REASON_TRANSPORT_CLOSE)

    async def run_disconnect(self, sock: _Socket) -> None:
        """on_disconnect of a greeted socket. At shutdown it runs shielded, briefly: the
        server's nursery is cancelled, and the app still has to forget the socket."""
        ref = sock.ref
        reason = sock.reason or REASON_SHUTDOWN
        log.debug(
            "disconnect sid=%s nsp=%s reason=%r duration=%.3fs",
            ref.sid, ref.namespace, reason, trio.current_time() - sock.opened_at,
            extra={"event": "disconnect", "sid": ref.sid, "nsp": ref.namespace,
                   "reason": reason, "remote": ref.remote},
        )
        shutdown = reason == REASON_SHUTDOWN
        with trio.CancelScope(shield=shutdown) as scope:
            if shutdown:
                scope.deadline = trio.current_time() + CLOSE_TIMEOUT
            try:
                await self.handler.on_disconnect(ref, reason)
            except Exception:
                log.exception("on_disconnect failed sid=%s", ref.sid)
