"""One WebSocket (after the 101): messages in through wsproto, frames out pre-built.

Frames going out are built once per packet and cached on it (``frame_of``), so a broadcast is
framed once for every recipient. Inbound, wsproto parses and checks the frames; a protocol
violation it finds (unmasked frame, reserved bits, bad opcode, oversized or fragmented control
frame: 1002; invalid UTF-8: 1007) is remembered and becomes the close frame's code.
"""

from __future__ import annotations

import logging
import math
import os
import struct
from typing import Final, Protocol

import trio
from wsproto.connection import Connection as WsConnection
from wsproto.connection import ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage

from .. import engineio as eio
from ..engineio import OutPacket
from .http import BROKEN, CLOSE_TIMEOUT, RECEIVE_SIZE

log = logging.getLogger("taskchat.reference_server.transport")

UPGRADE_TIMEOUT: Final = 10.0  # from the probe WebSocket's arrival to its "5"


def ws_frame(payload: bytes, binary: bool) -> bytes:
    """An unmasked, unfragmented server-to-client WebSocket frame (RFC 6455 section 5.2).
    Built here rather than by wsproto so that the bytes can be shared by every recipient."""
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


def frames(pkts: list[OutPacket] | tuple[OutPacket, ...]) -> bytes:
    return frame_of(pkts[0]) if len(pkts) == 1 else b"".join([frame_of(p) for p in pkts])


class Session(Protocol):
    """What a WebSocket's reader needs of the session it carries (``EngineConnection``)."""

    core: eio.EngineSession

    def receive_ws(self, message: str | bytes, size: int) -> None: ...

    def probe_message(self, ws: WebSocket, message: str | bytes) -> str: ...

    def abort(self, reason: str) -> None: ...

    def send_raw(self, data: bytes) -> None: ...

    @property
    def backlogged(self) -> bool: ...

    async def wait_capacity(self) -> None: ...


class WebSocket:
    """One WebSocket's bytes. Whoever sends writes at once if nothing is pending (a
    non-blocking write keeps the order); what the socket does not take goes to ``pending``,
    which the session's task writes when the socket is writable."""

    __slots__ = (
        "_reader_scope",
        "_write_scope",
        "_wsconn",
        "fd",
        "pending",
        "protocol_error",
        "stream",
        "writing",
    )

    def __init__(self, stream: trio.SocketStream, trailing: bytes) -> None:
        self.stream = stream
        self._wsconn = WsConnection(ConnectionType.SERVER, None, trailing)
        self.fd = stream.socket.fileno()  # -1 once the stream may be closed
        self.pending: list[bytes] = []  # bytes to write before anything else
        self.writing = False  # a task is inside a blocking write: nobody else may write
        self.protocol_error: int | None = None  # a close code for what the peer did wrong
        self._reader_scope: trio.CancelScope | None = None
        self._write_scope: trio.CancelScope | None = None

    # -- out ------------------------------------------------------------------------------

    @property
    def can_write_now(self) -> bool:
        return not self.writing and not self.pending and self.fd >= 0

    def write_now(self, buf: bytes) -> bool:
        """Write without waiting; what does not go out is kept in ``pending`` (returns False:
        the session's task must finish it). OSError if the socket broke."""
        try:
            n = os.write(self.fd, buf)
        except BlockingIOError:
            n = 0
        if n == len(buf):
            return True
        self.pending.append(buf[n:] if n else buf)
        return False

    def take_pending(self) -> bytes:
        buf = b"".join(self.pending)
        self.pending.clear()
        return buf

    async def write(self, buf: bytes, timeout: float) -> str | None:
        """Write ``buf`` fully (after what is pending); None on success, else why not
        (the peer went away, or it did not read within ``timeout``: a slow consumer)."""
        if self.pending:
            buf = self.take_pending() + buf
        try:
            if self.write_now(buf):
                return None  # most writes complete at once: no cancel scope, no wait
        except OSError:
            return eio.REASON_TRANSPORT_CLOSE
        buf = self.take_pending()
        with trio.move_on_after(timeout) as scope:
            self._write_scope = scope
            self.writing = True
            try:
                await self.stream.send_all(buf)
            except BROKEN:
                return eio.REASON_TRANSPORT_CLOSE
            finally:
                self._write_scope = None
            self.writing = False
            return None
        # the write timed out, or the session closed meanwhile (cancel_write)
        return eio.REASON_SLOW_CONSUMER

    def cancel_write(self) -> None:
        """Give up a write stuck behind a slow consumer (the session closed)."""
        if self._write_scope is not None:
            self._write_scope.cancel()

    async def send_close(self, code: int) -> None:
        """The close frame (after what is pending), unless a write was cut off mid-frame.
        Briefly; never raises."""
        if self.writing:
            return  # a frame was cut off: no valid frame may follow
        try:
            if self._wsconn.state not in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
                return
            frame = self._wsconn.send(CloseConnection(code=code))
        except Exception:  # pragma: no cover - wsproto refused: nothing to send
            return
        self.writing = True
        with trio.move_on_after(CLOSE_TIMEOUT):
            try:
                await self.stream.send_all(self.take_pending() + frame)
                self.writing = False
            except Exception:
                pass

    def stop_reading(self) -> None:
        if self._reader_scope is not None:
            self._reader_scope.cancel()

    # -- in -------------------------------------------------------------------------------

    async def _send_direct(self, data: bytes) -> None:
        """A write while the probe's reader holds the socket (the probe reply, a pong)."""
        self.writing = True
        await self.stream.send_all(data)
        self.writing = False

    async def read(self, conn: Session, probe: bool) -> bool:
        """Read messages into the session until the WebSocket or the session ends. As a probe
        (upgrading a polling session), only the upgrade's messages; returns True if the probe
        became the session's transport."""
        core = conn.core
        wsconn = self._wsconn
        stream = self.stream
        max_payload = core.max_payload
        parts: list[str | bytes | bytearray] = []
        size = 0
        upgraded = False
        deadline = trio.current_time() + UPGRADE_TIMEOUT if probe else math.inf
        with trio.CancelScope() as reader_scope:
            self._reader_scope = reader_scope
            try:
                while True:
                    if probe:
                        with trio.move_on_at(deadline) as receive_scope:
                            data = await stream.receive_some(RECEIVE_SIZE)
                        if receive_scope.cancelled_caught:
                            return False  # the probe took too long
                    else:  # no cancel scope per wait: it would cost ~600 bytes per socket
                        data = await stream.receive_some(RECEIVE_SIZE)
                    if wsconn.state is ConnectionState.CLOSED:
                        break
                    wsconn.receive_data(data or None)
                    for event in wsconn.events():
                        if isinstance(event, (TextMessage, BytesMessage)):
                            size += eio.payload_size(event.data)
                            if size > max_payload:
                                if probe:
                                    return False
                                conn.abort(eio.REASON_PAYLOAD_TOO_LARGE)
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
                                message = event.data if isinstance(event, TextMessage) else bytes(
                                    event.data
                                )
                            measured, size = size, 0
                            if probe:
                                result = conn.probe_message(self, message)
                                if result == eio.PROBE_REPLY_SENT:
                                    await self._send_direct(frame_of(eio.PROBE_REPLY))
                                elif result == eio.PROBE_UPGRADED:
                                    probe = False
                                    upgraded = True
                                    deadline = math.inf
                                else:
                                    return False
                                continue
                            conn.receive_ws(message, measured)
                            if core.closed:
                                return upgraded
                        elif isinstance(event, Ping):
                            pong = wsconn.send(event.response())
                            if probe:
                                await self._send_direct(pong)
                            else:
                                conn.send_raw(pong)
                        elif isinstance(event, CloseConnection):
                            if wsconn.state is ConnectionState.OPEN:
                                # wsproto found a protocol violation (it answers a real close
                                # frame by moving to REMOTE_CLOSING): close with its code
                                self.protocol_error = event.code
                                if probe:
                                    return False
                                conn.abort(eio.REASON_TRANSPORT_ERROR)
                                return upgraded
                            if probe:
                                return False
                            conn.abort(eio.REASON_TRANSPORT_CLOSE)
                            return upgraded
                    if not data:
                        break
                    if not probe and conn.backlogged:
                        await conn.wait_capacity()
            except BROKEN:
                pass
            finally:
                self._reader_scope = None
        if not probe and not core.closed:
            conn.abort(eio.REASON_TRANSPORT_CLOSE)
        return upgraded
