"""The trio transport: one listening socket serving Engine.IO over WebSocket and HTTP long-polling,
plus any other HTTP path handed to an HTTP handler.

- h11 parses HTTP/1.1 (keep-alive included); wsproto frames WebSocket messages after an upgrade
  (no permessage-deflate: it costs about four times the memory per connection). Frames going
  out are built here, once per packet: a broadcast packet is framed once and the same bytes are
  written to every WebSocket (see ``OutPacket.ws``).
- Each Engine.IO session has one session task (heartbeat timers; on WebSocket also the writer
  of its queue); each WebSocket has one reader task (the connection's own task). Sessions live
  in the server's nursery, so a session outlives the HTTP requests that carry it.
- A socket that falls behind (its queue over ``queue_limit`` packets, or one write blocked longer
  than ``write_timeout``) is closed as a slow consumer; nobody else waits for it.
- Every timeout is a cancel scope. Cancelling :meth:`Transport.serve` closes every session
  (WebSocket close frames, CLOSE for a pending poll) within about a second.

The protocol itself lives in the sans-IO :mod:`taskchat.reference_server.engineio` core; what runs on top
of a session (Socket.IO, or the raw echo of the protocol test mode) is an :class:`EngineApp`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import struct
from collections.abc import Awaitable, Callable
from typing import Final, Protocol
from urllib.parse import parse_qs, urlsplit

import h11
import orjson
import trio
from wsproto.connection import Connection as WsConnection
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.utilities import generate_accept_token

from . import engineio as eio
from .engineio import EngineSession, MessageReceived, OutPacket

log = logging.getLogger("taskchat.reference_server.transport")

RECEIVE_SIZE: Final = 65536
WRITE_TIMEOUT: Final = 10.0  # a write blocked this long marks a slow consumer
CLOSE_TIMEOUT: Final = 0.5  # for close frames and goodbyes when a session ends
UPGRADE_TIMEOUT: Final = 10.0  # from the probe WebSocket's arrival to its "5"
CLOSED_POLL_GRACE: Final = 1.0  # see Transport._remember_closed_poll
KEEPALIVE_TIMEOUT: Final = 60.0  # an idle HTTP keep-alive connection
REQUEST_TIMEOUT: Final = 30.0  # to receive a request's head and body
MAX_HEADER_SIZE: Final = 16384

REASON_SHUTDOWN: Final = "server shutting down"
_SENT: Final = 0  # the handler already wrote the response

WS_CLOSE_NORMAL: Final = 1000
WS_CLOSE_GOING_AWAY: Final = 1001
WS_CLOSE_TOO_BIG: Final = 1009

# Engine.IO's HTTP error codes (as the Node.js server sends them)
ERR_TRANSPORT_UNKNOWN: Final = (0, "Transport unknown")
ERR_SID_UNKNOWN: Final = (1, "Session ID unknown")
ERR_BAD_METHOD: Final = (2, "Bad handshake method")
ERR_BAD_REQUEST: Final = (3, "Bad request")
ERR_UNSUPPORTED_VERSION: Final = (5, "Unsupported protocol version")


def ws_frame(payload: bytes, binary: bool) -> bytes:
    """An unmasked, unfragmented server-to-client WebSocket frame (RFC 6455 section 5.2)."""
    opcode = 0x82 if binary else 0x81
    n = len(payload)
    if n < 126:
        return bytes((opcode, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", opcode, 126, n) + payload
    return struct.pack("!BBQ", opcode, 127, n) + payload


def frame_of(pkt: OutPacket) -> bytes:
    f = pkt.ws
    if f is None:
        f = pkt.ws = ws_frame(pkt.data, pkt.binary)
    return f


class Signal:
    """A level-triggered wake-up for one waiting task (cheaper than a trio.Event per cycle)."""

    __slots__ = ("_flag", "_task")

    def __init__(self) -> None:
        self._task: trio.lowlevel.Task | None = None
        self._flag = False

    def set(self) -> None:
        task = self._task
        if task is not None:
            self._task = None
            trio.lowlevel.reschedule(task)
        else:
            self._flag = True

    async def wait(self) -> None:
        if self._flag:
            self._flag = False
            await trio.lowlevel.checkpoint()
            return
        self._task = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort)

    def _abort(self, _raise_cancel: object) -> trio.lowlevel.Abort:
        self._task = None
        return trio.lowlevel.Abort.SUCCEEDED


class EngineApp(Protocol):
    """What runs on one Engine.IO session (Socket.IO, or the raw echo of the test mode).

    Every method but ``wait_capacity`` is synchronous and called from trio.
    """

    def receive(self, data: str | bytes) -> None:
        """One Engine.IO MESSAGE, in arrival order."""

    def closed(self, reason: str) -> None:
        """The session is over (called once)."""

    def next_deadline(self) -> float: ...

    def handle_timers(self, now: float) -> None: ...

    @property
    def backlogged(self) -> bool:
        """True while the app wants the reader to stop reading (its inbox is full)."""

    async def wait_capacity(self) -> None: ...


AppFactory = Callable[["EngineConnection"], EngineApp]
HttpCallback = Callable[
    [str, str, list[tuple[bytes, bytes]], bytes],
    Awaitable[tuple[int, list[tuple[bytes, bytes]], bytes]],
]


class _WebSocket:
    """One WebSocket. Its bytes go out either written at once by whoever sends (the fast path:
    nothing is pending, so a non-blocking write keeps the order), or by the session task."""

    __slots__ = (
        "broken",
        "busy",
        "fd",
        "raw",
        "reader_scope",
        "stream",
        "write_scope",
        "wsconn",
    )

    def __init__(self, stream: trio.SocketStream, wsconn: WsConnection) -> None:
        self.stream = stream
        self.wsconn = wsconn
        self.fd = stream.socket.fileno()  # -1 once the stream may be closed
        self.raw: list[bytes] = []  # bytes to write before the session's queue (a partial
        # fast-path write, pong replies to WebSocket pings)
        self.busy = False  # the session task holds bytes in flight
        self.broken = False  # a write was interrupted: no more frames may follow
        self.reader_scope: trio.CancelScope | None = None
        self.write_scope: trio.CancelScope | None = None

    def write_now(self, buf: bytes) -> int:
        """Write without waiting; returns how much went out (OSError if the socket broke)."""
        try:
            return os.write(self.fd, buf)
        except BlockingIOError:
            return 0

    def close_frame(self, code: int) -> bytes | None:
        try:
            if self.wsconn.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
                return self.wsconn.send(CloseConnection(code=code))
        except Exception:  # pragma: no cover - wsproto refused: nothing to send
            pass
        return None


class EngineConnection:
    """The transport side of one Engine.IO session: the sans-IO core plus its wake-ups."""

    __slots__ = (
        "_poll_signal",
        "_signal",
        "app",
        "core",
        "dirty",
        "done",
        "path",
        "probe",
        "remote",
        "transport",
        "ws",
    )

    def __init__(self, transport: Transport, core: EngineSession, path: str, remote: str) -> None:
        self.transport = transport
        self.core = core
        self.path = path
        self.remote = remote
        self.app: EngineApp = None  # type: ignore[assignment]  # set right after
        self.ws: _WebSocket | None = None  # the WebSocket carrying the session
        self.probe: _WebSocket | None = None  # a WebSocket probing an upgrade
        self._signal = Signal()  # the session task
        self._poll_signal = Signal()  # a pending polling GET
        self.dirty = False  # waiting for the flusher
        self.done = trio.Event()

    @property
    def sid(self) -> str:
        return self.core.sid

    @property
    def transport_name(self) -> str:
        return self.core.transport

    def send(self, pkt: OutPacket) -> bool:
        return self.send_many((pkt,))

    def send_many(self, pkts: tuple[OutPacket, ...] | list[OutPacket]) -> bool:
        """Queue packets, in order after everything sent before; never blocks. False if closed
        (or closed now as a slow consumer).

        On WebSocket the transport's flusher writes what a connection got queued during one
        scheduler pass with one write (an emit and the ack after it: one syscall)."""
        if self.core.send_many(pkts):
            if self.ws is None:
                self._poll_signal.set()
            elif not self.dirty:
                self.dirty = True
                transport = self.transport
                transport._dirty.append(self)
                transport._flush_signal.set()
            return True
        self.kick()
        return False

    def flush_now(self) -> None:
        """Write what is queued without waiting (the flusher). What the socket does not take
        at once is left to the session task, which waits until it is writable."""
        self.dirty = False
        ws = self.ws
        core = self.core
        if ws is None or core.state != eio.STATE_OPEN or ws.busy or ws.raw or ws.fd < 0:
            self._signal.set()
            return
        pkts = core.take()
        if not pkts:
            return
        buf = frame_of(pkts[0]) if len(pkts) == 1 else b"".join([frame_of(p) for p in pkts])
        try:
            n = ws.write_now(buf)
        except OSError:
            core.abort(eio.REASON_TRANSPORT_CLOSE)
            self.kick()
            return
        if n < len(buf):
            ws.raw.append(buf[n:] if n else buf)
            self._signal.set()

    def close(self, reason: str, *, flush: bool = True) -> None:
        """Server-side close; with ``flush`` what is queued goes out first."""
        self.core.close(reason, trio.current_time(), flush=flush)
        self.kick()

    def kick(self) -> None:
        """Wake everything that waits on this session (after a state change)."""
        core = self.core
        if core.closed:
            ws = self.ws
            if ws is not None and ws.write_scope is not None:
                ws.write_scope.cancel()  # a write stuck behind a slow consumer
        self._signal.set()
        self._poll_signal.set()


async def _linger_close(stream: trio.SocketStream) -> None:
    """Close gracefully: send FIN, then read (and drop) what the peer still sends until it
    closes too, briefly. Closing with unread data would reset the connection and could destroy
    our last response or close frame before the peer reads it."""
    with trio.CancelScope(shield=True) as scope:
        scope.deadline = trio.current_time() + CLOSE_TIMEOUT
        try:
            await stream.send_eof()
            while await stream.receive_some(RECEIVE_SIZE):
                pass
        except (
            trio.BrokenResourceError,
            trio.ClosedResourceError,
            trio.BusyResourceError,
            OSError,
        ):
            pass
    await trio.aclose_forcefully(stream)


def _deliver(conn: EngineConnection, events: list[eio.Event]) -> None:
    """Hand received messages to the app, in order; wake the session if it closed."""
    app = conn.app
    for ev in events:
        if type(ev) is MessageReceived:
            try:
                app.receive(ev.data)
            except Exception:
                log.exception("app.receive failed (sid=%s)", conn.core.sid)
                conn.core.abort(eio.REASON_TRANSPORT_ERROR)
                break
    if conn.core.closed:
        conn.kick()


class Transport:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        apps: dict[str, AppFactory],
        http: HttpCallback | None = None,
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        max_payload: int = 1_000_000,
        queue_limit: int = 1024,
        write_timeout: float = WRITE_TIMEOUT,
        cors_origin: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.apps = apps  # path prefix ("/socket.io/") -> app factory
        self.http = http
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_payload = max_payload
        self.queue_limit = queue_limit
        self.write_timeout = write_timeout
        self.cors_origin = cors_origin
        self.sessions: dict[str, EngineConnection] = {}
        self._nursery: trio.Nursery | None = None
        self._dirty: list[EngineConnection] = []  # WebSocket sessions with packets to write
        self._closed_polls: dict[str, float] = {}  # sid -> until when a late GET gets NOOP
        self._flush_signal = Signal()

    @property
    def nursery(self) -> trio.Nursery:
        """The server-wide nursery (sessions and what apps start for them)."""
        assert self._nursery is not None, "not serving"
        return self._nursery

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(self.port, host=self.host)
        port = listeners[0].socket.getsockname()[1]
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._flusher)
                log.info("listening on %s:%d", self.host, port)
                task_status.started(port)
                await trio.serve_listeners(self._handle_tcp, listeners, handler_nursery=nursery)
        finally:
            self._nursery = None

    async def _flusher(self) -> None:
        """Write each WebSocket's queue once per scheduler pass: a broadcast is one write per
        socket, with no task switch per socket."""
        signal = self._flush_signal
        while True:
            await signal.wait()
            dirty = self._dirty
            self._dirty = []
            for conn in dirty:
                try:
                    conn.flush_now()
                except Exception:  # pragma: no cover - a bug must not stop every socket
                    log.exception("flush failed (sid=%s)", conn.sid)
                    conn.core.abort(eio.REASON_TRANSPORT_ERROR)
                    conn.kick()

    # -- sessions -------------------------------------------------------------------------

    def _new_session(self, transport: str, path: str, remote: str) -> EngineConnection:
        now = trio.current_time()
        core = EngineSession(
            transport,
            now,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            max_payload=self.max_payload,
            queue_limit=self.queue_limit,
        )
        conn = EngineConnection(self, core, path, remote)
        conn.app = self.apps[path](conn)
        self.sessions[core.sid] = conn
        log.debug("eio open sid=%s transport=%s remote=%s", core.sid, transport, remote)
        self.nursery.start_soon(self._session_task, conn)
        return conn

    async def _session_task(self, conn: EngineConnection) -> None:
        """Heartbeat timers; on WebSocket also the writer. Ends when the session closes."""
        core = conn.core
        app = conn.app
        try:
            while not core.closed:
                ws = conn.ws
                if ws is not None and (core.queue or ws.raw or core.state == eio.STATE_CLOSING):
                    ws.busy = True
                    pkts = core.take()
                    if ws.raw:
                        buf = b"".join(ws.raw)
                        ws.raw.clear()
                        if pkts:
                            buf += b"".join([frame_of(p) for p in pkts])
                    elif len(pkts) == 1:
                        buf = frame_of(pkts[0])
                    else:
                        buf = b"".join([frame_of(p) for p in pkts])
                    if buf and not await self._ws_write(conn, ws, buf):
                        break
                    ws.busy = False
                    continue
                deadline = min(core.next_deadline(), app.next_deadline())
                if deadline > trio.current_time():
                    with trio.move_on_at(deadline):
                        await conn._signal.wait()
                now = trio.current_time()
                core.handle_timers(now)
                app.handle_timers(now)
                if ws is None and core.queue:
                    conn._poll_signal.set()
        except trio.Cancelled:
            core.abort(REASON_SHUTDOWN)
            raise
        except Exception:  # pragma: no cover - a bug closes this session, not the server
            log.exception("session task failed (sid=%s)", core.sid)
            core.abort(eio.REASON_TRANSPORT_ERROR)
        finally:
            await self._teardown(conn)

    async def _ws_write(self, conn: EngineConnection, ws: _WebSocket, buf: bytes) -> bool:
        """Write to the session's WebSocket; False (and the session closed) if that failed."""
        try:
            n = ws.write_now(buf)  # most writes complete at once: no cancel scope, no wait
        except OSError:
            conn.core.abort(eio.REASON_TRANSPORT_CLOSE)
            return False
        if n == len(buf):
            return True
        buf = buf[n:]
        with trio.move_on_after(self.write_timeout) as scope:
            ws.write_scope = scope
            ws.broken = True
            try:
                await ws.stream.send_all(buf)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                conn.core.abort(eio.REASON_TRANSPORT_CLOSE)
                return False
            finally:
                ws.write_scope = None
            ws.broken = False
            return True
        # the write timed out, or the queue overflowed meanwhile (kick() cancelled the scope)
        conn.core.abort(eio.REASON_SLOW_CONSUMER)
        return False

    async def _teardown(self, conn: EngineConnection) -> None:
        core = conn.core
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + CLOSE_TIMEOUT
            if not core.closed:
                core.abort(REASON_SHUTDOWN)
            reason = core.close_reason or eio.REASON_TRANSPORT_CLOSE
            if self.sessions.get(core.sid) is conn:
                del self.sessions[core.sid]
            conn._poll_signal.set()  # a pending GET answers now
            try:
                conn.app.closed(reason)
            except Exception:
                log.exception("app.closed failed (sid=%s)", core.sid)
            for ws in (conn.ws, conn.probe):
                if ws is None:
                    continue
                if not ws.broken:
                    code = WS_CLOSE_NORMAL
                    if reason == REASON_SHUTDOWN:
                        code = WS_CLOSE_GOING_AWAY
                    elif reason == eio.REASON_PAYLOAD_TOO_LARGE:
                        code = WS_CLOSE_TOO_BIG
                    frame = ws.close_frame(code)
                    if frame:
                        if ws.raw:  # the rest of a partly written frame goes first
                            frame = b"".join(ws.raw) + frame
                            ws.raw.clear()
                        ws.broken = True
                        try:
                            await ws.stream.send_all(frame)
                            ws.broken = False
                        except Exception:
                            pass
                if ws.reader_scope is not None:
                    ws.reader_scope.cancel()
            conn.done.set()
            log.debug("eio close sid=%s reason=%s", core.sid, reason)

    # -- TCP / HTTP -----------------------------------------------------------------------

    async def _handle_tcp(self, stream: trio.SocketStream) -> None:
        try:
            host, port = stream.socket.getpeername()[:2]
            remote = f"{host}:{port}"
        except OSError:
            remote = "?"
        h = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_SIZE)
        try:
            while True:
                request = await self._next_request(stream, h)
                if request is None:
                    return
                upgrade = await self._handle_request(stream, h, request, remote)
                if upgrade is not None:
                    del h, request  # HTTP parsing state is not kept for the connection's life
                    await self._run_websocket(stream, *upgrade)
                    return
                if h.our_state is h11.MUST_CLOSE or h.their_state is h11.MUST_CLOSE:
                    return
                try:
                    h.start_next_cycle()
                except h11.LocalProtocolError:
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError, OSError):
            return
        except Exception:  # a bug closes this connection (and its session), not the server
            log.exception("connection from %s failed", remote)
        finally:
            await _linger_close(stream)

    async def _receive_event(self, stream: trio.SocketStream, h: h11.Connection) -> object:
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                h.receive_data(await stream.receive_some(RECEIVE_SIZE))
                continue
            return event

    async def _next_request(
        self, stream: trio.SocketStream, h: h11.Connection
    ) -> h11.Request | None:
        with trio.move_on_after(KEEPALIVE_TIMEOUT):
            try:
                event = await self._receive_event(stream, h)
            except h11.RemoteProtocolError as exc:
                await self._send_simple(stream, h, exc.error_status_hint, b"bad request\n")
                return None
            return event if isinstance(event, h11.Request) else None
        return None  # idle too long

    async def _read_body(
        self, stream: trio.SocketStream, h: h11.Connection, limit: int
    ) -> bytes | None:
        """The request body; None if over ``limit`` (the connection must then close)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await self._receive_event(stream, h)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > limit:
                    return None
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
                return b"".join(chunks)
            else:
                raise h11.RemoteProtocolError("unexpected event while reading a body")

    async def _send_response(
        self,
        stream: trio.SocketStream,
        h: h11.Connection,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        *,
        head: bool = False,
    ) -> None:
        if not any(name.lower() == b"content-length" for name, _ in headers):
            headers = [*headers, (b"content-length", str(len(body)).encode())]
        data = h.send(h11.Response(status_code=status, headers=headers))
        if body and not head:
            data += h.send(h11.Data(data=body))
        data += h.send(h11.EndOfMessage())
        with trio.move_on_after(self.write_timeout) as scope:
            await stream.send_all(data)
        if scope.cancelled_caught:
            raise trio.BrokenResourceError("response write timed out")

    async def _send_simple(
        self, stream: trio.SocketStream, h: h11.Connection, status: int, body: bytes
    ) -> None:
        with contextlib.suppress(
            h11.LocalProtocolError, trio.BrokenResourceError, trio.ClosedResourceError, OSError
        ):
            await self._send_response(
                stream,
                h,
                status,
                [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")],
                body,
            )

    def _cors_headers(self) -> list[tuple[bytes, bytes]]:
        if self.cors_origin is None:
            return []
        return [(b"access-control-allow-origin", self.cors_origin.encode())]

    async def _handle_request(
        self, stream: trio.SocketStream, h: h11.Connection, req: h11.Request, remote: str
    ) -> tuple | None:
        """Serve one request. Returns the WebSocket to run if this request upgraded."""
        target = req.target.decode("latin-1")
        path = urlsplit(target).path
        method = req.method.decode("latin-1").upper()
        app_path = next((p for p in self.apps if path.startswith(p)), None)
        limit = self.max_payload
        too_large = False
        for name, value in req.headers:
            if name == b"content-length":
                with contextlib.suppress(ValueError):
                    too_large = int(value) > limit
        with trio.move_on_after(REQUEST_TIMEOUT) as timeout:
            body = None if too_large else await self._read_body(stream, h, limit)
        if timeout.cancelled_caught:
            await self._send_simple(stream, h, 408, b"request timeout\n")
            return None
        if app_path is None:
            await self._serve_http(stream, h, req, method, target, body)
            return None
        query = parse_qs(urlsplit(target).query)
        status, headers, payload, upgrade = await self._serve_engineio(
            stream, h, req, method, app_path, query, body, remote
        )
        if upgrade is not None:
            return upgrade
        if status == _SENT:
            return None
        if body is None:
            headers = [*headers, (b"connection", b"close")]
        await self._send_response(stream, h, status, headers, payload)
        return None

    async def _serve_http(
        self,
        stream: trio.SocketStream,
        h: h11.Connection,
        req: h11.Request,
        method: str,
        target: str,
        body: bytes | None,
    ) -> None:
        if body is None:
            await self._send_simple(stream, h, 413, b"payload too large\n")
            return
        if self.http is None:
            status, headers, payload = 404, [(b"content-type", b"text/plain")], b"not found\n"
        else:
            try:
                status, headers, payload = await self.http(method, target, list(req.headers), body)
            except Exception:
                log.exception("HTTP handler failed: %s %s", method, target)
                status, headers, payload = (
                    500,
                    [(b"content-type", b"text/plain")],
                    b"internal server error\n",
                )
        await self._send_response(stream, h, status, list(headers), payload, head=method == "HEAD")

    def _eio_error(self, err: tuple[int, str], cors: list) -> tuple[int, list, bytes, None]:
        code, message = err
        body = orjson.dumps({"code": code, "message": message})
        return 400, [(b"content-type", b"application/json"), *cors], body, None

    async def _serve_engineio(
        self,
        stream: trio.SocketStream,
        h: h11.Connection,
        req: h11.Request,
        method: str,
        app_path: str,
        query: dict[str, list[str]],
        body: bytes | None,
        remote: str,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes, tuple | None]:
        cors = self._cors_headers()
        text = [(b"content-type", b"text/plain; charset=UTF-8"), *cors]
        if method == "OPTIONS" and self.cors_origin is not None:
            return (
                204,
                [
                    *cors,
                    (b"access-control-allow-methods", b"GET, POST"),
                    (b"access-control-allow-headers", b"content-type"),
                ],
                b"",
                None,
            )
        if query.get("EIO") != ["4"]:
            return self._eio_error(ERR_UNSUPPORTED_VERSION, cors)
        transport = query.get("transport", [None])[0]
        if transport not in (eio.POLLING, eio.WEBSOCKET):
            return self._eio_error(ERR_TRANSPORT_UNKNOWN, cors)
        sid = query.get("sid", [None])[0]
        headers = {name: value for name, value in req.headers}
        is_upgrade = b"websocket" in headers.get(b"upgrade", b"").lower()
        if transport == eio.WEBSOCKET:
            if method != "GET" or not is_upgrade or body is None:
                return self._eio_error(ERR_BAD_REQUEST, cors)
            key = headers.get(b"sec-websocket-key")
            if not key or headers.get(b"sec-websocket-version") != b"13":
                return self._eio_error(ERR_BAD_REQUEST, cors)
            if sid is None:
                conn = None
            else:
                conn = self.sessions.get(sid)
                if conn is None or conn.path != app_path:
                    return self._eio_error(ERR_SID_UNKNOWN, cors)
            data = h.send(
                h11.InformationalResponse(
                    status_code=101,
                    headers=[
                        (b"upgrade", b"websocket"),
                        (b"connection", b"Upgrade"),
                        (b"sec-websocket-accept", generate_accept_token(key)),
                    ],
                )
            )
            trailing, _closed = h.trailing_data
            ws = _WebSocket(stream, WsConnection(ConnectionType.SERVER, None, trailing))
            if conn is None:
                conn = self._new_session(eio.WEBSOCKET, app_path, remote)
                probe = False
            elif conn.core.attach_probe():
                probe = True
            else:
                # already upgraded or upgrading: accepted, then closed at once (as Node does)
                frame = ws.close_frame(WS_CLOSE_NORMAL) or b""
                return 101, [], data + frame, (None, ws, True, data + frame)
            if not probe:
                conn.core.send(conn.core.open_packet())
            return 101, [], data, (conn, ws, probe, data)
        # HTTP long-polling
        if is_upgrade:
            return self._eio_error(ERR_BAD_REQUEST, cors)
        if sid is None:
            if method != "GET":
                return self._eio_error(ERR_BAD_METHOD, cors)
            conn = self._new_session(eio.POLLING, app_path, remote)
            return 200, text, conn.core.open_packet().data, None
        if method == "GET" and self._closed_polls.pop(sid, 0.0) > trio.current_time():
            return 200, text, b"6", None  # the NOOP it would have got a moment earlier
        conn = self.sessions.get(sid)
        if conn is None or conn.path != app_path:
            return self._eio_error(ERR_SID_UNKNOWN, cors)
        core = conn.core
        if method == "GET":
            status, payload = await self._poll(conn, stream, h, text)
            if status != 200:
                return self._eio_error(ERR_BAD_REQUEST, cors)
            try:
                await self._send_response(stream, h, 200, text, payload)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                # the packets in this poll are lost: end the session rather than skip them
                core.poll_abandoned()
                conn.kick()
                raise
            return _SENT, [], b"", None
        if method == "POST":
            if body is None:
                core.abort(eio.REASON_PAYLOAD_TOO_LARGE)
                conn.kick()
                return 413, text, b"payload too large", None
            poll_was_pending = core.poll_pending
            status, events = core.receive_post(body, trio.current_time())
            app = conn.app
            _deliver(conn, events)
            if core.closed_by_client and not poll_was_pending:
                self._remember_closed_poll(sid)
            if app.backlogged:
                await app.wait_capacity()
            if status == 200:
                return 200, text, b"ok", None
            if status == 413:
                return 413, text, b"payload too large", None
            return self._eio_error(ERR_BAD_REQUEST, cors)
        return self._eio_error(ERR_BAD_METHOD, cors)

    def _remember_closed_poll(self, sid: str) -> None:
        """A client closed its polling session while no GET was pending; a GET it sent at
        the same time may still be on its way (the two requests race on two connections):
        answer it with the NOOP it would have got, once, for a short while."""
        now = trio.current_time()
        if len(self._closed_polls) > 64:
            self._closed_polls = {k: t for k, t in self._closed_polls.items() if t > now}
        self._closed_polls[sid] = now + CLOSED_POLL_GRACE

    async def _poll(
        self,
        conn: EngineConnection,
        stream: trio.SocketStream,
        h: h11.Connection,
        headers: list[tuple[bytes, bytes]],
    ) -> tuple[int, bytes]:
        core = conn.core
        result, events = core.poll_begin(trio.current_time())
        if events or core.closed:
            conn.kick()
        if result != eio.POLL_OK:
            return 400, b""
        try:
            while True:
                body = core.poll_take(trio.current_time())
                if body is not None:
                    break
                with trio.move_on_at(core.poll_deadline()):
                    await conn._poll_signal.wait()
        except trio.Cancelled:
            # shutting down: answer the pending GET with CLOSE, briefly
            core.abort(REASON_SHUTDOWN)
            conn.kick()
            with trio.CancelScope(shield=True) as scope:
                scope.deadline = trio.current_time() + CLOSE_TIMEOUT
                with contextlib.suppress(Exception):
                    body = core.poll_take(trio.current_time()) or b"1"
                    await self._send_response(stream, h, 200, headers, body)
            raise
        finally:
            core.poll_end()
        if core.closed:
            conn.kick()
        if body == eio.POLL_GONE:
            return 400, b""
        return 200, body

    # -- WebSocket ------------------------------------------------------------------------

    async def _run_websocket(
        self,
        stream: trio.SocketStream,
        conn: EngineConnection | None,
        ws: _WebSocket,
        probe: bool,
        handshake: bytes,
    ) -> None:
        try:
            with trio.move_on_after(self.write_timeout) as scope:
                await stream.send_all(handshake)
            if scope.cancelled_caught:
                raise trio.BrokenResourceError
            if conn is None:
                return  # a refused probe: the close frame went with the handshake
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            if conn is None:
                return
            if probe:
                conn.core.detach_probe()
                conn.probe = None
            else:
                conn.core.abort(eio.REASON_TRANSPORT_CLOSE)
                conn.kick()
            return
        if probe:
            conn.probe = ws
        else:
            conn.ws = ws
            conn.kick()  # the OPEN packet is queued: let the writer go
        upgraded = False
        try:
            upgraded = await self._ws_reader(conn, ws, probe)
        finally:
            if not probe or upgraded:
                # the session's own WebSocket: the session task writes the close frame
                if not conn.core.closed:
                    conn.core.abort(REASON_SHUTDOWN)
                    conn.kick()
                with trio.CancelScope(shield=True) as scope:
                    scope.deadline = trio.current_time() + CLOSE_TIMEOUT * 2
                    await conn.done.wait()
            ws.fd = -1  # the stream closes after this: no fast-path write may reach its fd
        if probe and not upgraded:
            conn.core.detach_probe()
            if conn.probe is ws:
                conn.probe = None
            frame = ws.close_frame(WS_CLOSE_NORMAL)
            if frame and not ws.broken:
                with trio.move_on_after(CLOSE_TIMEOUT):
                    with contextlib.suppress(Exception):
                        await stream.send_all(frame)

    async def _ws_reader(self, conn: EngineConnection, ws: _WebSocket, probe: bool) -> bool:
        """Read WebSocket messages into the session. Returns True if a probe upgraded."""
        core = conn.core
        app = conn.app
        wsconn = ws.wsconn
        stream = ws.stream
        max_payload = core.max_payload
        parts: list[str | bytes] = []
        size = 0
        upgraded = False
        deadline = trio.current_time() + UPGRADE_TIMEOUT if probe else math.inf
        with trio.CancelScope() as reader_scope:
            ws.reader_scope = reader_scope
            try:
                while True:
                    if probe:
                        with trio.move_on_at(deadline) as receive_scope:
                            data = await stream.receive_some(RECEIVE_SIZE)
                        if receive_scope.cancelled_caught:
                            return False  # the probe took too long
                    else:
                        data = await stream.receive_some(RECEIVE_SIZE)
                    if wsconn.state is ConnectionState.CLOSED:
                        break
                    wsconn.receive_data(data or None)
                    for event in wsconn.events():
                        if isinstance(event, (TextMessage, BytesMessage)):
                            chunk = event.data
                            if isinstance(chunk, str) and not chunk.isascii():
                                size += len(chunk.encode("utf-8", "surrogatepass"))
                            else:
                                size += len(chunk)
                            if size > max_payload:
                                if probe:
                                    return False
                                core.abort(eio.REASON_PAYLOAD_TOO_LARGE)
                                conn.kick()
                                return upgraded
                            if not event.message_finished:
                                parts.append(event.data)
                                continue
                            if parts:
                                parts.append(event.data)
                                message = (
                                    "".join(parts)  # type: ignore[arg-type]
                                    if isinstance(event, TextMessage)
                                    else b"".join(parts)  # type: ignore[arg-type]
                                )
                                parts.clear()
                            else:
                                message = event.data
                            size = 0
                            if probe:
                                result, _ = core.receive_probe(message, trio.current_time())
                                if result == eio.PROBE_REPLY_SENT:
                                    conn._poll_signal.set()  # release the pending GET
                                    ws.broken = True
                                    await stream.send_all(frame_of(eio.PROBE_REPLY))
                                    ws.broken = False
                                elif result == eio.PROBE_UPGRADED:
                                    probe = False
                                    upgraded = True
                                    deadline = math.inf
                                    conn.probe = None
                                    conn.ws = ws
                                    log.debug("eio upgrade sid=%s", core.sid)
                                    conn.kick()
                                else:
                                    return False
                                continue
                            _deliver(conn, core.receive_ws(message, trio.current_time()))
                            if core.closed:
                                return upgraded
                        elif isinstance(event, Ping):
                            pong = wsconn.send(event.response())
                            if probe:
                                ws.broken = True
                                await stream.send_all(pong)
                                ws.broken = False
                            else:
                                ws.raw.append(pong)
                                conn._signal.set()
                        elif isinstance(event, CloseConnection):
                            if probe:
                                return False
                            core.abort(eio.REASON_TRANSPORT_CLOSE)
                            conn.kick()
                            return upgraded
                    if not data:
                        break
                    if not probe and app.backlogged:
                        await app.wait_capacity()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
            finally:
                ws.reader_scope = None
        if not probe and not core.closed:
            core.abort(eio.REASON_TRANSPORT_CLOSE)
            conn.kick()
        return upgraded
