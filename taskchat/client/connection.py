"""One Socket.IO v5 client connection over a raw WebSocket, for the conformance suite and Locust.

Why not python-socketio's client: it shares its codec with the reference server (see ``wire``),
and inside Locust it cost 2-3x more CPU per message and ~2x more memory per user, and it drops a
connection itself when the process falls a few seconds behind. This class speaks Engine.IO over
WebSocket directly (no polling, no upgrade): websocket-client opens the connection and sends;
frames are read by this module's own parser, one socket read per burst rather than three per
frame. In plain threads (pytest, the conformance suite) each connection has a reader thread.
Under gevent (Locust) a greenlet per connection would be the biggest part of an idle user's
memory, so the reader is a read watcher whose callback runs in gevent's event loop instead.
Heartbeats: pings are answered with pongs; one watchdog per process gives up on a connection
that heard nothing for pingInterval + pingTimeout.

Memory per connection is kept small for load runs: ``__slots__``, no per-connection buffers, and
``keep_received=False`` turns off the event log (events then reach ``on_event`` and the waiters
of ``wait_for`` that are waiting when they arrive).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
import weakref
from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple, cast
from urllib.parse import urlsplit, urlunsplit

import websocket

from taskchat.client import wire

log = logging.getLogger("taskchat.client")

# bytes per socket read: a burst of chat frames fits; larger reads only fragment the heap
_RECV_SIZE = 16384

OnEvent = Callable[[str, list[Any], float], None]
AckCallback = Callable[[list[Any]], None]


class ClientError(Exception):
    """Base of everything this client raises."""


class ConnectFailed(ClientError):
    """The connection could not be made: network error, timeout, or a broken handshake."""


class ConnectRefused(ClientError):
    """The server answered the Socket.IO CONNECT with CONNECT_ERROR; ``payload`` is its JSON."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"connect refused: {payload}")
        self.payload = payload

    @property
    def code(self) -> str | None:
        data = self.payload.get("data")
        code = data.get("code") if isinstance(data, dict) else None
        return code if isinstance(code, str) else None


class AckTimeout(ClientError, TimeoutError):
    """No ACK arrived for a ``call`` within its timeout."""


class EventTimeout(ClientError, TimeoutError):
    """No matching event arrived within ``wait_for``'s timeout."""


class ConnectionClosed(EventTimeout, AckTimeout):
    """The connection closed while a ``call`` or ``wait_for`` was still waiting.

    A subclass of both timeouts, so code that only expects "it did not come" still works.
    """


class Received(NamedTuple):
    event: str
    args: list[Any]
    t: float  # time.monotonic() at arrival


class Frame(NamedTuple):
    direction: str  # "sent" or "received"
    t: float  # time.monotonic()
    data: str | bytes


def websocket_url(url: str, path: str = "/socket.io/") -> str:
    """``http://host:port`` -> ``ws://host:port/socket.io/?EIO=4&transport=websocket``."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ConnectFailed(f"not an http(s) or ws(s) URL: {url!r}")
    if not path.endswith("/"):
        path += "/"
    return urlunsplit((scheme, parts.netloc, path, "EIO=4&transport=websocket", ""))


_ADDRESS_TTL = 30.0  # seconds a resolved address is reused
_ADDRESSES: dict[tuple[str, int], tuple[float, list[Any]]] = {}


def _open_socket(ws_url: str, timeout: float) -> socket.socket | None:
    """A connected TCP socket for a plain ``ws://`` URL, its address resolved once per process
    and reused for ``_ADDRESS_TTL`` seconds; None for ``wss://`` (websocket-client wraps TLS).

    Why not let websocket-client resolve: under gevent every getaddrinfo goes to gevent's thread
    pool; thousands of users connecting at once start its threads and cost several KB per
    user of memory, and a DNS query per connection measures the resolver, not the server.
    """
    parts = urlsplit(ws_url)
    if parts.scheme != "ws" or parts.hostname is None:
        return None
    key = (parts.hostname, parts.port or 80)
    now = time.monotonic()
    cached = _ADDRESSES.get(key)
    if cached is None or now - cached[0] > _ADDRESS_TTL:
        try:
            infos = socket.getaddrinfo(key[0], key[1], 0, socket.SOCK_STREAM)
        except OSError as exc:
            raise ConnectFailed(f"cannot resolve {key[0]}: {exc}") from exc
        cached = _ADDRESSES[key] = (now, infos)
    error: OSError | None = None
    for family, kind, proto, _, address in cached[1]:
        sock = socket.socket(family, kind, proto)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise ConnectFailed(f"cannot open {ws_url}: {error}")


class _TransportClosed(Exception):
    """The WebSocket ended (close frame or end of stream)."""


class _FrameParser:
    """The server's WebSocket messages, from socket reads of any size.

    websocket-client's own ``recv`` makes three or more socket reads per frame (header,
    length, payload), each a greenlet switch under gevent; at a few hundred messages per second
    per process that was most of the client's CPU. Server frames are never masked (RFC 6455
    5.1); fragmented messages are joined; pings are handed to ``on_ping``.
    """

    __slots__ = ("buf", "fragment_opcode", "fragments", "on_ping")

    def __init__(self, on_ping: Callable[[bytes], None]) -> None:
        self.buf = b""
        self.fragments: list[bytes] | None = None
        self.fragment_opcode = 0
        self.on_ping = on_ping

    def feed(self, chunk: bytes) -> list[str | bytes]:
        buf = self.buf + chunk if self.buf else chunk
        out: list[str | bytes] = []
        pos, size = 0, len(buf)
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            mask = b""
            if b1 & 0x80:
                mask = buf[pos + head : pos + head + 4]
                head += 4
            end = pos + head + length
            if end > size:
                break
            payload = buf[pos + head : end]
            pos = end
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = b0 & 0x0F
            if opcode >= 8:  # control frames
                if opcode == 8:
                    raise _TransportClosed()
                if opcode == 9:
                    self.on_ping(payload)
                continue
            if not b0 & 0x80:  # a fragment; more follow
                if opcode:
                    self.fragment_opcode = opcode
                self.fragments = [*(self.fragments or []), payload]
                continue
            if opcode == 0:
                payload = b"".join([*(self.fragments or []), payload])
                opcode, self.fragments = self.fragment_opcode, None
            if opcode == 1:
                try:
                    out.append(payload.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise wire.WireError(f"text frame is not UTF-8: {exc}") from None
            else:
                out.append(payload)
        self.buf = buf[pos:] if pos < size else b""
        return out


def _gevent_patched() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("threading"))


def _in_gevent_loop() -> bool:
    """True inside gevent's event loop (a watcher's callback), where nothing may block."""
    if not _gevent_patched():
        return False
    import gevent
    import greenlet

    return greenlet.getcurrent() is gevent.get_hub()


def _run_callback(callback: AckCallback, ack_id: int, data: Any) -> None:
    try:
        callback(data)
    except Exception:
        log.exception("ack callback %d failed", ack_id)


def _current() -> object:
    """The running thread, or under gevent the running greenlet."""
    if _gevent_patched():
        import greenlet

        return greenlet.getcurrent()
    return threading.current_thread()


class _Watchdog:
    """One per process: closes connections that heard nothing for pingInterval + pingTimeout.

    Engine.IO v4 servers ping; a client that hears nothing for that long must consider the
    connection lost. One sweeper for all connections is far cheaper than a timer per read.
    """

    period = 0.5

    def __init__(self) -> None:
        self._conns: weakref.WeakSet[Connection] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._running = False

    def watch(self, conn: Connection) -> None:
        with self._lock:
            self._conns.add(conn)
            if self._running:
                return
            self._running = True
        if _gevent_patched():
            import gevent

            gevent.spawn_raw(self._loop)
        else:
            threading.Thread(target=self._loop, name="sio-watchdog", daemon=True).start()

    def _loop(self) -> None:
        while True:
            time.sleep(self.period)
            now = time.monotonic()
            with self._lock:
                conns = list(self._conns)
                if not conns:
                    self._running = False
                    return
            for conn in conns:
                if conn.closed.is_set():
                    self._conns.discard(conn)
                elif now - conn._last_rx > conn._ping_window:
                    conn._abort("ping timeout")


class _PendingCall:
    __slots__ = ("args", "done")

    def __init__(self) -> None:
        self.args: list[Any] | None = None
        self.done = False


class Connection:
    """A Socket.IO client on one namespace. Not reusable: make a new one to reconnect.

    Close reasons (``close_reason``): ``"client"`` (``close()``), ``"server disconnect"``
    (Socket.IO DISCONNECT), ``"engine close"`` (Engine.IO CLOSE), ``"transport closed"``
    (the WebSocket ended), ``"ping timeout"`` (no ping within pingInterval + pingTimeout),
    ``"transport error: ..."``. ``on_close(reason)`` runs once when an established
    connection closes for any reason, on whichever thread noticed it; ``on_event(event, args,
    t)`` runs on the reader for every event. Under gevent the reader is a read watcher whose
    callback runs inside the event loop: callbacks must not block there.
    """

    __slots__ = (
        "__weakref__",
        "_ack_counter",
        "_binary",
        "_cond",
        "_last_rx",
        "_parser",
        "_pending",
        "_ping_window",
        "_reader",
        "_taken",
        "_waiters",
        "_ws",
        "ack_counts",
        "auth",
        "close_reason",
        "closed",
        "handshake",
        "keep_received",
        "namespace",
        "on_close",
        "on_event",
        "path",
        "received",
        "record",
        "sid",
        "timeout",
        "transcript",
        "unexpected_acks",
        "url",
        "wire_errors",
    )

    def __init__(
        self,
        url: str,
        auth: dict[str, Any] | None = None,
        *,
        namespace: str = "/",
        timeout: float = 5.0,
        record: bool = False,
        on_event: OnEvent | None = None,
        path: str = "/socket.io/",
        keep_received: bool = True,
        on_close: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url
        self.auth = auth
        self.namespace = namespace
        self.timeout = timeout
        self.record = record
        self.on_event = on_event
        self.on_close = on_close
        self.path = path
        self.keep_received = keep_received
        self.sid: str | None = None
        self.handshake: dict[str, Any] = {}
        self.received: list[Received] = []
        self.transcript: list[Frame] = []
        # ACK packets per ack id (only with keep_received, so a load user stays small);
        # unexpected_acks counts ACKs for no pending id (a duplicate ack lands here too).
        self.ack_counts: dict[int, int] = {}
        self.unexpected_acks = 0
        self.wire_errors: list[str] = []
        self.closed = threading.Event()
        self.close_reason: str | None = None
        self._ws: websocket.WebSocket | None = None
        self._reader: Any = None  # a Thread, or under gevent a read watcher
        self._parser: _FrameParser | None = None
        self._binary: tuple[wire.Packet, list[bytes]] | None = None
        self._last_rx = 0.0
        self._ping_window = 45.0
        self._cond = threading.Condition(threading.Lock())
        self._pending: dict[int, _PendingCall | AckCallback] = {}
        self._ack_counter = 0
        self._taken: set[int] = set()
        self._waiters: list[list[Any]] = []

    # -- connecting -------------------------------------------------------------------------

    def connect(self) -> str:
        """Engine.IO handshake, then the Socket.IO CONNECT; returns the Socket.IO sid."""
        ws = websocket.WebSocket(
            skip_utf8_validation=True, enable_multithread=True, fire_cont_frame=False
        )
        url = websocket_url(self.url, self.path)
        try:
            sock = _open_socket(url, self.timeout)
            ws.connect(url, timeout=self.timeout, socket=sock)
        except ConnectFailed:
            raise
        except (OSError, websocket.WebSocketException) as exc:
            ws.shutdown()
            raise ConnectFailed(f"cannot open {self.url}: {exc}") from exc
        ws.handshake_response = None  # its headers are not needed after the upgrade
        self._ws = ws
        deadline = time.monotonic() + self.timeout
        try:
            opened = self._read_packet(deadline)
            if opened.eio_type != wire.EIO_OPEN:
                raise ConnectFailed(f"expected Engine.IO OPEN, got {opened}")
            self.handshake = opened.data
            self._send(wire.encode_connect(self.auth, self.namespace))
            while True:
                packet = self._read_packet(deadline)
                if packet.eio_type == wire.EIO_PING:
                    self._send(wire.PONG_FRAME + (packet.data or ""))
                    continue
                if packet.eio_type == wire.EIO_CLOSE:
                    raise ConnectFailed("the server closed the Engine.IO session")
                if packet.eio_type != wire.EIO_MESSAGE or packet.namespace != self.namespace:
                    continue
                if packet.sio_type == wire.SIO_CONNECT_ERROR:
                    raise ConnectRefused(packet.data)
                if packet.sio_type == wire.SIO_CONNECT:
                    sid = (packet.data or {}).get("sid")
                    if not isinstance(sid, str):
                        raise ConnectFailed(f"CONNECT without a sid: {packet.data!r}")
                    self.sid = sid
                    break
        except (ConnectRefused, ConnectFailed):
            self._abort("connect failed")
            raise
        except wire.WireError as exc:
            self._abort("connect failed")
            raise ConnectFailed(f"malformed frame during connect: {exc}") from exc
        except (OSError, websocket.WebSocketException) as exc:
            self._abort("connect failed")
            raise ConnectFailed(f"connect to {self.url} failed: {exc}") from exc
        ping_ms = self.handshake.get("pingInterval", 25000) + self.handshake.get(
            "pingTimeout", 20000
        )
        # no ping within this: the server is gone (the shared watchdog checks; a socket
        # timeout would cost a timer per read)
        self._ping_window = ping_ms / 1000.0
        self._last_rx = time.monotonic()
        ws.settimeout(None)
        self._start_reading()
        _WATCHDOG.watch(self)
        return self.sid

    def _read_packet(self, deadline: float) -> wire.Packet:
        """One packet while connecting (the reader thread is not running yet)."""
        assert self._ws is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ConnectFailed(f"timed out after {self.timeout}s while connecting")
        self._ws.settimeout(remaining)
        try:
            frame = self._ws.recv()
        except websocket.WebSocketTimeoutException as exc:
            raise ConnectFailed(f"timed out after {self.timeout}s while connecting") from exc
        except websocket.WebSocketConnectionClosedException as exc:
            raise ConnectFailed("the server closed the connection while connecting") from exc
        if self.record:
            self.transcript.append(Frame("received", time.monotonic(), frame))
        if isinstance(frame, bytes):
            raise ConnectFailed("binary frame while connecting")
        return wire.decode(frame)

    # -- sending ----------------------------------------------------------------------------

    def _send(self, frame: str | bytes) -> None:
        ws = self._ws
        if ws is None:
            raise ConnectionClosed("not connected")
        if self.record:
            self.transcript.append(Frame("sent", time.monotonic(), frame))
        try:
            if isinstance(frame, bytes):
                ws.send_bytes(frame)
            else:
                ws.send_text(frame)
        except (OSError, websocket.WebSocketException) as exc:
            self._abort(f"transport error: {exc}")
            raise ConnectionClosed(f"send failed: {exc}") from exc

    def _send_event(self, event: str, args: tuple[Any, ...], ack_id: int | None) -> None:
        if wire.has_binary(args):
            for part in wire.encode_binary_event(event, args, ack_id, self.namespace):
                self._send(part)
        else:
            self._send(wire.encode_event(event, args, ack_id, self.namespace))

    def send_raw(self, frame: str | bytes) -> None:
        """Send one raw Engine.IO frame as is (for malformed-packet checks)."""
        self._send(frame)

    def emit(self, event: str, *args: Any) -> None:
        """Send an event without an ack id (bytes anywhere in args make it a BINARY_EVENT)."""
        self._send_event(event, args, None)

    def _next_ack_id(self) -> int:
        with self._cond:
            ack_id = self._ack_counter
            self._ack_counter += 1
            return ack_id

    def emit_with_ack(self, event: str, *args: Any, callback: AckCallback) -> int:
        """Send with an ack id; ``callback(args)`` runs on the reader when the ack comes (under
        gevent: inside the event loop, so it must not block).

        Returns the ack id. Nothing happens if the ack never comes: the caller keeps its own
        deadline (the Locust user does, to count lost acks).
        """
        return self._send_with_ack(event, args, callback)

    def _send_with_ack(
        self, event: str, args: tuple[Any, ...], waiter: _PendingCall | AckCallback
    ) -> int:
        """Register ``waiter`` for a fresh ack id, then send; a failed send leaves no waiter."""
        ack_id = self._next_ack_id()
        with self._cond:
            self._pending[ack_id] = waiter
        try:
            self._send_event(event, args, ack_id)
        except ClientError:
            with self._cond:
                self._pending.pop(ack_id, None)
            raise
        return ack_id

    def call(self, event: str, *args: Any, timeout: float | None = None) -> list[Any]:
        """Send with an ack id and block until the ack; returns the ack's arguments."""
        limit = self.timeout if timeout is None else timeout
        pending = _PendingCall()
        ack_id = self._send_with_ack(event, args, pending)
        deadline = time.monotonic() + limit
        with self._cond:
            while not pending.done:
                if self.closed.is_set():
                    self._pending.pop(ack_id, None)
                    raise ConnectionClosed(
                        f"{event}: connection closed ({self.close_reason}) before the ack"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._pending.pop(ack_id, None)
                    raise AckTimeout(f"{event}: no ack within {limit}s")
                self._cond.wait(remaining)
        assert pending.args is not None
        return pending.args

    # -- receiving --------------------------------------------------------------------------

    def wait_for(
        self,
        event: str,
        predicate: Callable[[list[Any]], bool] | None = None,
        timeout: float | None = None,
    ) -> list[Any]:
        """The first event of that name (matching ``predicate(args)``) no earlier wait_for
        returned; waits for it if it has not come yet. Returns its args.
        """
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        with self._cond:
            if self.keep_received:
                for index, item in enumerate(self.received):
                    if (
                        index not in self._taken
                        and item.event == event
                        and (predicate is None or predicate(item.args))
                    ):
                        self._taken.add(index)
                        return item.args
            # a waiter is [event, predicate, result]; the reader fills result and removes it
            waiter: list[Any] = [event, predicate, None]
            self._waiters.append(waiter)
            try:
                while waiter[2] is None:
                    if self.closed.is_set():
                        raise ConnectionClosed(
                            f"{event}: connection closed ({self.close_reason}) while waiting"
                        )
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise EventTimeout(f"no {event!r} event within {limit}s")
                    self._cond.wait(remaining)
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            result: list[Any] = waiter[2]
            return result

    def _start_reading(self) -> None:
        """Under gevent: a read watcher whose callback runs in the hub (no greenlet, no stack
        per connection: that is most of an idle user's memory). Otherwise: a reader thread."""
        ws = self._ws
        assert ws is not None
        if _gevent_patched():
            import gevent

            # the real, non-blocking socket under gevent's wrapper (not part of its typed face)
            raw: socket.socket = cast(Any, ws.sock)._sock
            self._parser = _FrameParser(lambda data: gevent.spawn_raw(self._pong_ws, data))
            self._reader = watcher = gevent.get_hub().loop.io(raw.fileno(), 1)
            watcher.start(self._on_readable, raw)
        else:
            self._parser = _FrameParser(self._pong_ws)
            thread = threading.Thread(target=self._read_loop, name=f"sio-{self.sid}", daemon=True)
            self._reader = thread
            thread.start()

    def _pong_ws(self, data: bytes) -> None:
        with contextlib.suppress(OSError, websocket.WebSocketException):
            if self._ws is not None:
                self._ws.pong(data)

    def _on_readable(self, raw: socket.socket) -> None:
        """gevent: the socket has data (runs in the hub: must not block, must not raise)."""
        try:
            chunk = raw.recv(_RECV_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            self._abort(f"transport error: {exc}")
            return
        try:
            reason = "transport closed" if not chunk else self._feed(chunk)
        except Exception as exc:  # never let the event loop drop this watcher silently
            log.exception("reading %s failed", self.url)
            reason = f"client error: {exc!r}"
        if reason is not None:
            self._abort(reason)

    def _read_loop(self) -> None:
        """Plain threads: block in recv."""
        ws = self._ws
        assert ws is not None
        sock = ws.sock
        assert sock is not None
        reason: str | None = None
        while reason is None:
            try:
                chunk = sock.recv(_RECV_SIZE)
            except OSError as exc:
                reason = f"transport error: {exc}"
                break
            reason = "transport closed" if not chunk else self._feed(chunk)
        self._abort(reason)

    def _feed(self, chunk: bytes) -> str | None:
        """Handle the frames in ``chunk``; a close reason when the connection ended."""
        assert self._parser is not None
        try:
            for frame in self._parser.feed(chunk):
                reason = self._handle_frame(frame)
                if reason is not None:
                    return reason
        except _TransportClosed:
            return "transport closed"
        except ClientError:
            return self.close_reason or "transport error"
        except wire.WireError as exc:
            self.wire_errors.append(str(exc))
            return f"transport error: {exc}"
        return None

    def _handle_frame(self, frame: str | bytes) -> str | None:
        now = self._last_rx = time.monotonic()
        if self.record:
            self.transcript.append(Frame("received", now, frame))
        if isinstance(frame, bytes):
            binary = self._binary
            if binary is None:
                self.wire_errors.append("binary frame without a binary packet header")
                return None
            binary[1].append(frame)
            if len(binary[1]) == binary[0].attachments:
                self._binary = None
                self._dispatch_message(binary[0], wire.reconstruct(binary[0].data, binary[1]), now)
            return None
        try:
            packet = wire.decode(frame)
        except wire.WireError as exc:
            self.wire_errors.append(str(exc))
            return None
        kind = packet.eio_type
        if kind == wire.EIO_MESSAGE:
            if packet.attachments:
                self._binary = (packet, [])
            elif packet.sio_type == wire.SIO_DISCONNECT:
                if packet.namespace == self.namespace:
                    return "server disconnect"
            else:
                self._dispatch_message(packet, packet.data, now)
        elif kind == wire.EIO_PING:
            self._send_soon(wire.PONG_FRAME + (packet.data or ""))
        elif kind == wire.EIO_CLOSE:
            return "engine close"
        return None

    def _send_soon(self, frame: str) -> None:
        """Send from the reader: under gevent the hub may not block, so a greenlet sends."""
        if isinstance(self._reader, threading.Thread) or self._reader is None:
            self._send(frame)
        else:
            import gevent

            gevent.spawn_raw(self._send_quietly, frame)

    def _send_quietly(self, frame: str) -> None:
        with contextlib.suppress(ClientError):
            self._send(frame)

    def _dispatch_message(self, packet: wire.Packet, data: Any, now: float) -> None:
        if packet.namespace != self.namespace:
            return
        sio_type = packet.sio_type
        if sio_type in (wire.SIO_EVENT, wire.SIO_BINARY_EVENT):
            event: str = data[0]
            args: list[Any] = data[1:]
            # (a load user keeps no log and rarely waits: skip the lock then)
            if self.keep_received or self._waiters:
                self._log_event(event, args, now)
            if self.on_event is not None:
                try:
                    self.on_event(event, args, now)
                except Exception:  # a caller's bug must not stop this connection's reader
                    log.exception("on_event(%r) failed", event)
            if packet.ack_id is not None:
                # the protocol has no server->client acks; answer anyway, as socket.io does
                self._send_soon(wire.encode_ack([], packet.ack_id, self.namespace))
        elif sio_type in (wire.SIO_ACK, wire.SIO_BINARY_ACK):
            ack_id = packet.ack_id
            assert ack_id is not None
            self._holding_lock(self._ack_arrived, ack_id, data)

    def _ack_arrived(self, ack_id: int, data: Any) -> Callable[[], None] | None:
        """(under ``_cond``) Hand the ack to its waiter; a callback is returned, to be run
        once the lock is released."""
        if self.keep_received:
            self.ack_counts[ack_id] = self.ack_counts.get(ack_id, 0) + 1
        target = self._pending.pop(ack_id, None)
        if target is None:
            self.unexpected_acks += 1
            return None
        if isinstance(target, _PendingCall):
            target.args = data
            target.done = True
            self._cond.notify_all()
            return None
        return partial(_run_callback, target, ack_id, data)

    def _holding_lock(self, locked: Callable[..., Callable[[], None] | None], *args: Any) -> None:
        """Run ``locked(*args)`` holding ``_cond``, then what it returns without the lock.

        Under gevent the reader runs inside the event loop, which must never block: gevent's
        lock can be briefly unavailable (it is handed to a waking greenlet in turn), and then
        the work moves to a greenlet of its own instead of waiting in the loop.
        """
        if self._cond.acquire(False):
            try:
                after = locked(*args)
            finally:
                self._cond.release()
        elif _in_gevent_loop():
            import gevent

            gevent.spawn_raw(self._holding_lock, locked, *args)
            return
        else:
            with self._cond:
                after = locked(*args)
        if after is not None:
            after()

    def _log_event(self, event: str, args: list[Any], now: float) -> None:
        self._holding_lock(self._event_arrived, event, args, now)

    def _event_arrived(self, event: str, args: list[Any], now: float) -> None:
        """(under ``_cond``) Log the event and wake the first matching ``wait_for``."""
        if self.keep_received:
            self.received.append(Received(event, args, now))
        if self._waiters:
            for waiter in self._waiters:
                if waiter[0] == event and (waiter[1] is None or waiter[1](args)):
                    waiter[2] = args
                    self._waiters.remove(waiter)
                    if self.keep_received:
                        self._taken.add(len(self.received) - 1)
                    self._cond.notify_all()
                    break

    # -- closing ----------------------------------------------------------------------------

    def _abort(self, reason: str) -> None:
        """Mark closed (first reason wins), drop the socket, wake every waiter."""
        self._holding_lock(self._mark_closed, reason)

    def _mark_closed(self, reason: str) -> Callable[[], None] | None:
        """(under ``_cond``) The first close reason wins; the rest of the close runs after."""
        first = self.close_reason is None
        if first:
            self.close_reason = reason
        self.closed.set()
        self._cond.notify_all()
        return partial(self._closed_after, reason, first)

    def _closed_after(self, reason: str, first: bool) -> None:
        if first and self.on_close is not None and self.sid is not None:
            try:
                self.on_close(reason)
            except Exception:
                log.exception("on_close failed")
        ws = self._ws
        if ws is not None:
            try:
                if ws.sock is not None:
                    ws.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            reader = self._reader
            if reader is not None and not isinstance(reader, threading.Thread):
                reader.stop()  # the gevent read watcher
                reader.close()
                ws.shutdown()
            elif reader is None or _current() is reader:
                ws.shutdown()

    def close(self) -> None:
        """Say goodbye (Socket.IO DISCONNECT) and drop the connection; idempotent."""
        if self.closed.is_set():
            return
        if self._ws is not None and self.sid is not None:
            with contextlib.suppress(ClientError):
                self._send(wire.encode_disconnect(self.namespace))
        self._abort("client")
        reader = self._reader
        if isinstance(reader, threading.Thread) and reader is not _current():
            reader.join(self.timeout)

    def drop(self, reason: str = "dropped") -> None:
        """Cut the transport without a Socket.IO goodbye, as a network failure would."""
        self._abort(reason)

    def wait_closed(self, timeout: float) -> bool:
        """Whether the connection closed (for any reason) within ``timeout`` seconds."""
        return self.closed.wait(timeout)

    @property
    def connected(self) -> bool:
        return self.sid is not None and not self.closed.is_set()

    def __enter__(self) -> Connection:
        if self.sid is None:
            self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_WATCHDOG = _Watchdog()
