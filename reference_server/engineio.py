"""Sans-IO Engine.IO v4 server session.

Bytes and events in, bytes and events out, like h11 and wsproto: no sockets, no tasks, no clock
(every call that depends on time takes ``now``, a monotonic time in seconds).

One :class:`EngineSession` is one Engine.IO session, whatever transport carries it:

- WebSocket: feed each WebSocket message to :meth:`EngineSession.receive_ws`; drain the outbound
  queue with :meth:`EngineSession.take` and write each packet as one WebSocket message.
- HTTP long-polling: feed each POST body to :meth:`EngineSession.receive_post`; a GET calls
  :meth:`EngineSession.poll_begin`, then :meth:`EngineSession.poll_take` until it returns a body
  (``None`` means "wait for something to be queued"), then :meth:`EngineSession.poll_end`.
- Upgrade polling -> WebSocket: :meth:`EngineSession.attach_probe` when the probe WebSocket
  arrives, then :meth:`EngineSession.receive_probe` for each of its messages.
- Heartbeat: call :meth:`EngineSession.handle_timers` at :meth:`EngineSession.next_deadline`.

Packets are decoded with python-engineio's ``engineio.packet.Packet`` (its JSON guessing switched
off: a message's payload is kept as sent) behind guards; any malformed input closes this
session (reason ``"parse error"``) and never raises out of the session.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from typing import Final

import orjson
from engineio import packet as eio_packet

OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = (
    eio_packet.OPEN,
    eio_packet.CLOSE,
    eio_packet.PING,
    eio_packet.PONG,
    eio_packet.MESSAGE,
    eio_packet.UPGRADE,
    eio_packet.NOOP,
)

SEPARATOR: Final = b"\x1e"  # the record separator between packets of a polling payload
POLLING: Final = "polling"
WEBSOCKET: Final = "websocket"

# session states
STATE_OPEN: Final = "open"
STATE_CLOSING: Final = "closing"  # server-side close: the queue is flushed first
STATE_CLOSED: Final = "closed"

# close reasons (what Socket.IO's own server reports, plus the slow consumer)
REASON_TRANSPORT_CLOSE: Final = "transport close"
REASON_TRANSPORT_ERROR: Final = "transport error"
REASON_PARSE_ERROR: Final = "parse error"
REASON_PING_TIMEOUT: Final = "ping timeout"
REASON_SLOW_CONSUMER: Final = "slow consumer"
REASON_PAYLOAD_TOO_LARGE: Final = "payload too large"
REASON_FORCED_CLOSE: Final = "forced close"


def payload_size(data: str | bytes | bytearray) -> int:
    """What ``maxPayload`` limits, measured one way everywhere: bytes on the wire (a text
    message's UTF-8 length, a POST body's length)."""
    if isinstance(data, str) and not data.isascii():
        return len(data.encode("utf-8", "surrogatepass"))
    return len(data)


def new_sid() -> str:
    """A random session id (20 URL-safe characters, 120 bits)."""
    return secrets.token_urlsafe(15)


class OutPacket:
    """One encoded Engine.IO packet, shared by every session it is queued on.

    ``data`` is the packet as sent over WebSocket: for a text packet the UTF-8 bytes of the
    packet type digit and its payload (``b'42["x"]'``), for a binary packet the raw bytes.
    ``ws`` is a cache slot the transport fills with the encoded WebSocket frame, so that a
    broadcast is framed once for every recipient.
    """

    __slots__ = ("binary", "data", "ws")

    def __init__(self, data: bytes, binary: bool = False) -> None:
        self.data = data
        self.binary = binary
        self.ws: bytes | None = None

    def polling(self) -> bytes:
        """The packet as it appears in a polling payload (binary as ``b`` + base64)."""
        if self.binary:
            return b"b" + base64.b64encode(self.data)
        return self.data

    def __repr__(self) -> str:
        return f"OutPacket({self.data[:40]!r}, binary={self.binary})"


def message_packet(data: str | bytes) -> OutPacket:
    """A MESSAGE packet carrying text (``str``) or binary (``bytes``) data."""
    if isinstance(data, str):
        return OutPacket(b"4" + data.encode())
    return OutPacket(bytes(data), binary=True)


PING_PACKET: Final = OutPacket(b"2")
PROBE_REPLY: Final = OutPacket(b"3probe")
NOOP_PACKET: Final = OutPacket(b"6")
CLOSE_PACKET: Final = OutPacket(b"1")


class _NoJson:
    """Makes ``engineio.packet.Packet`` keep a packet's payload as the text that was sent."""

    @staticmethod
    def loads(_s: str) -> object:
        raise ValueError

    @staticmethod
    def dumps(obj: object, **_kw: object) -> str:  # pragma: no cover - never used to encode
        return orjson.dumps(obj).decode()


class _RawPacket(eio_packet.Packet):
    json = _NoJson


_VALID_TYPES: Final = frozenset("0123456")


class MalformedPacket(ValueError):
    pass


def decode_packet(encoded: str | bytes) -> tuple[int, str | bytes]:
    """Decode one Engine.IO packet: ``(type, data)``; raise ``MalformedPacket``.

    Text data stays ``str``; binary data (a binary WebSocket message, or ``b`` + base64 in
    text) is ``bytes`` and always a MESSAGE.
    """
    if isinstance(encoded, str):
        # guards in front of the codec: it takes int() of the first character, so it would
        # accept "9" and non-ASCII digits; it raises IndexError-free ValueError on "".
        if not encoded:
            raise MalformedPacket("empty packet")
        first = encoded[0]
        if first == "b":
            # the codec's base64 is lenient (it drops stray characters): validate strictly
            try:
                return MESSAGE, base64.b64decode(encoded[1:], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise MalformedPacket("bad base64") from exc
        if first not in _VALID_TYPES:
            raise MalformedPacket(f"unknown packet type {first!r}")
        try:
            pkt = _RawPacket(encoded_packet=encoded)
        except (ValueError, IndexError) as exc:  # pragma: no cover - guarded above
            raise MalformedPacket(str(exc)) from exc
        if pkt.packet_type != int(first) or not isinstance(pkt.data, str):
            raise MalformedPacket("codec disagreement")  # pragma: no cover
        return pkt.packet_type, pkt.data
    if isinstance(encoded, (bytes, bytearray, memoryview)):
        return MESSAGE, bytes(encoded)
    raise MalformedPacket(f"not a packet: {type(encoded).__name__}")


# -- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A MESSAGE packet: ``str`` for text, ``bytes`` for binary."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class SessionClosed:
    reason: str


@dataclass(frozen=True, slots=True)
class Upgraded:
    """The probe WebSocket is now the session's transport."""


Event = MessageReceived | SessionClosed | Upgraded

# probe results
PROBE_REPLY_SENT: Final = "reply"  # write PROBE_REPLY on the probe WebSocket; release the poll
PROBE_UPGRADED: Final = "upgraded"  # the probe WebSocket is now the transport
PROBE_ABORT: Final = "abort"  # close the probe WebSocket (the session goes on over polling)

NOOP_DELAY: Final = 0.1  # a poll pending while upgrading gets its NOOP after this (as in Node)
POLL_GONE: Final = b""  # poll_take: answer 400

# poll_begin results
POLL_OK: Final = "ok"
POLL_ERROR: Final = "error"  # answer HTTP 400


class EngineSession:
    """One Engine.IO v4 session (server side)."""

    __slots__ = (
        "_close_at",
        "_closed_by_client",
        "_next_ping",
        "_pong_deadline",
        "close_reason",
        "max_payload",
        "ping_interval",
        "ping_timeout",
        "poll_pending",
        "probe_attached",
        "probed",
        "probed_at",
        "queue",
        "queue_limit",
        "sid",
        "state",
        "transport",
    )

    def __init__(
        self,
        transport: str,
        now: float,
        *,
        sid: str | None = None,
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        max_payload: int = 1_000_000,
        queue_limit: int = 1024,
    ) -> None:
        if transport not in (POLLING, WEBSOCKET):
            raise ValueError(f"unknown transport {transport!r}")
        self.sid = sid or new_sid()
        self.transport = transport
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.max_payload = max_payload
        self.queue_limit = queue_limit
        self.state = STATE_OPEN
        self.close_reason: str | None = None
        self._closed_by_client = False
        self.queue: list[OutPacket] = []  # (a list: a deque costs 600 bytes even empty)
        self._next_ping = now + ping_interval
        self._pong_deadline: float | None = None
        self._close_at: float | None = None
        self.poll_pending = False
        self.probe_attached = False
        self.probed = False
        self.probed_at = 0.0

    # -- handshake ------------------------------------------------------------------------

    def open_packet(self) -> OutPacket:
        """The OPEN packet (the handshake): the first response / the first WebSocket message."""
        body = orjson.dumps(
            {
                "sid": self.sid,
                "upgrades": ["websocket"] if self.transport == POLLING else [],
                "pingInterval": round(self.ping_interval * 1000),
                "pingTimeout": round(self.ping_timeout * 1000),
                "maxPayload": self.max_payload,
            }
        )
        return OutPacket(b"0" + body)

    # -- state ----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.state == STATE_CLOSED

    @property
    def closed_by_client(self) -> bool:
        return self.state == STATE_CLOSED and self._closed_by_client

    def _close(self, reason: str, *, by_client: bool = False) -> SessionClosed | None:
        if self.state == STATE_CLOSED:
            return None
        self.state = STATE_CLOSED
        self.close_reason = reason
        self._closed_by_client = by_client
        self.queue = []
        return SessionClosed(reason)

    def abort(self, reason: str) -> list[Event]:
        """Close at once, dropping what is queued (a protocol error, a timeout)."""
        ev = self._close(reason)
        return [ev] if ev else []

    def close(
        self, reason: str, now: float, *, flush: bool = True, grace: float = 5.0
    ) -> list[Event]:
        """Server-side close. With ``flush``, what is queued goes out first (a polling client
        gets it, then a CLOSE packet, on its next GET, if that comes within ``grace`` s)."""
        if self.state == STATE_CLOSED:
            return []
        if flush and self.queue:
            if self.state == STATE_OPEN:
                self.state = STATE_CLOSING
                self.close_reason = reason
                self._close_at = now + grace
            return []
        ev = self._close(reason)
        return [ev] if ev else []

    # -- outbound -------------------------------------------------------------------------

    def send(self, pkt: OutPacket) -> bool:
        """Queue one packet. Returns False if the session is closed, or if this overflowed the
        queue (the session is then closed as a slow consumer: check :attr:`closed`)."""
        return self.send_many((pkt,))

    def send_many(self, pkts: list[OutPacket] | tuple[OutPacket, ...]) -> bool:
        """Queue packets (see :meth:`send`)."""
        if self.state != STATE_OPEN:
            return False
        q = self.queue
        q.extend(pkts)
        if len(q) > self.queue_limit:
            self._close(REASON_SLOW_CONSUMER)
            return False
        return True

    def take(self) -> list[OutPacket]:
        """Everything queued (for the WebSocket writer). A CLOSING session whose queue is now
        drained becomes CLOSED (the caller then ends the session)."""
        if self.transport != WEBSOCKET:
            return []
        q = self.queue
        if not q:
            if self.state == STATE_CLOSING:
                self._close(self.close_reason or REASON_FORCED_CLOSE)
            return []
        self.queue = []
        return q

    @property
    def has_output(self) -> bool:
        return bool(self.queue)

    # -- timers ---------------------------------------------------------------------------

    def next_deadline(self) -> float:
        if self.state == STATE_CLOSED:
            return float("inf")
        if self.state == STATE_CLOSING and self._close_at is not None:
            return self._close_at
        if self._pong_deadline is not None:
            return self._pong_deadline
        return self._next_ping

    def handle_timers(self, now: float) -> list[Event]:
        """Send a PING when due; close on a missed PONG or an expired close grace."""
        if self.state == STATE_CLOSED:
            return []
        if self.state == STATE_CLOSING:
            if self._close_at is not None and now >= self._close_at:
                ev = self._close(self.close_reason or REASON_FORCED_CLOSE)
                return [ev] if ev else []
            return []
        if self._pong_deadline is not None:
            if now >= self._pong_deadline:
                ev = self._close(REASON_PING_TIMEOUT)
                return [ev] if ev else []
            return []
        if now >= self._next_ping:
            self._pong_deadline = now + self.ping_timeout
            self._next_ping = float("inf")
            if not self.send(PING_PACKET):
                return [SessionClosed(self.close_reason or REASON_SLOW_CONSUMER)]
        return []

    # -- inbound --------------------------------------------------------------------------

    def _on_packet(self, ptype: int, data: str | bytes, now: float, out: list[Event]) -> bool:
        """Handle one decoded packet on the active transport. False = stop (closed)."""
        if ptype == MESSAGE:
            out.append(MessageReceived(data))
        elif ptype == PONG:
            self._pong_deadline = None
            self._next_ping = now + self.ping_interval
        elif ptype == CLOSE:
            ev = self._close(REASON_TRANSPORT_CLOSE, by_client=True)
            if ev:
                out.append(ev)
            return False
        elif ptype == PING:
            # Engine.IO v4: the server pings, never the client ("invalid heartbeat direction")
            ev = self._close(REASON_PARSE_ERROR)
            if ev:
                out.append(ev)
            return False
        # OPEN, UPGRADE and NOOP from the client on the active transport are ignored
        return True

    def _parse_error(self) -> list[Event]:
        ev = self._close(REASON_PARSE_ERROR)
        return [ev] if ev else []

    def receive_ws(self, message: str | bytes, now: float, size: int | None = None) -> list[Event]:
        """One WebSocket message received on the session's (active) WebSocket; ``size`` is its
        :func:`payload_size` if the caller measured it already (while reassembling it)."""
        if self.state == STATE_CLOSED:
            return []
        try:
            if (payload_size(message) if size is None else size) > self.max_payload:
                ev = self._close(REASON_PAYLOAD_TOO_LARGE)
                return [ev] if ev else []
            ptype, data = decode_packet(message)
        except Exception:
            return self._parse_error()
        out: list[Event] = []
        self._on_packet(ptype, data, now, out)
        return out

    def receive_post(self, body: bytes, now: float) -> tuple[int, list[Event]]:
        """A polling POST body. Returns ``(http_status, events)``: 200 (answer ``ok``), 400 (bad
        request; closes the session if it was a malformed payload) or 413 (too large; closes)."""
        if self.state == STATE_CLOSED or self.transport != POLLING:
            return 400, []
        if len(body) > self.max_payload:
            ev = self._close(REASON_PAYLOAD_TOO_LARGE)
            return 413, [ev] if ev else []
        try:
            text = body.decode("utf-8")
            decoded = [decode_packet(p) for p in text.split("\x1e")]
        except Exception:
            return 400, self._parse_error()
        out: list[Event] = []
        for ptype, data in decoded:
            if not self._on_packet(ptype, data, now, out):
                break
        return 200, out

    # -- long-polling GET -----------------------------------------------------------------

    def poll_begin(self, now: float) -> tuple[str, list[Event]]:
        """A GET arrived. ``POLL_ERROR`` -> answer 400 (a GET while another is pending closes
        the session; the pending one then gets a CLOSE packet)."""
        if self.state != STATE_CLOSED:
            events = self.handle_timers(now)  # a GET racing the ping timeout loses
            if events:
                return POLL_ERROR, events
        if self.state == STATE_CLOSED or self.transport != POLLING:
            return POLL_ERROR, []
        if self.poll_pending:
            ev = self._close(REASON_TRANSPORT_ERROR)
            return POLL_ERROR, [ev] if ev else []
        self.poll_pending = True
        return POLL_OK, []

    def poll_take(self, now: float) -> bytes | None:
        """The body for the pending GET; None: keep waiting (until something is queued, or
        :meth:`poll_deadline`); :data:`POLL_GONE`: answer 400 (the session upgraded meanwhile,
        and polling requests after an upgrade are refused)."""
        if self.state == STATE_CLOSED:
            # a client close releases the GET with a NOOP, a server close with CLOSE
            return b"6" if self._closed_by_client else b"1"
        if self.transport != POLLING:
            return POLL_GONE
        q = self.queue
        if q:
            body = SEPARATOR.join([p.polling() for p in q])
            self.queue = []
            if self.state == STATE_CLOSING:
                body += b"\x1e1"
                self._close(self.close_reason or REASON_FORCED_CLOSE)
            return body
        if self.state == STATE_CLOSING:
            self._close(self.close_reason or REASON_FORCED_CLOSE)
            return b"1"
        if self.probed and now >= self.probed_at + NOOP_DELAY:
            # the client is upgrading: a NOOP ends its current poll (not at once: a GET racing
            # the "5" that completes the upgrade would get 200, where it should get 400)
            return b"6"
        return None

    def poll_deadline(self) -> float:
        """When a waiting GET must call :meth:`poll_take` again (even if nothing was queued)."""
        return self.probed_at + NOOP_DELAY if self.probed else float("inf")

    def poll_end(self) -> None:
        self.poll_pending = False

    def poll_abandoned(self) -> list[Event]:
        """The pending GET could not be answered (the client went away): its packets are lost."""
        self.poll_pending = False
        if self.state == STATE_CLOSED:
            return []
        ev = self._close(REASON_TRANSPORT_CLOSE)
        return [ev] if ev else []

    # -- upgrade --------------------------------------------------------------------------

    def attach_probe(self) -> bool:
        """A WebSocket with this sid arrived. False: refuse it (not a polling session, or
        already upgrading, or closed)."""
        if self.state != STATE_OPEN or self.transport != POLLING or self.probe_attached:
            return False
        self.probe_attached = True
        return True

    def detach_probe(self) -> None:
        """The probe WebSocket went away before the upgrade completed."""
        if self.transport == POLLING:
            self.probe_attached = False
            self.probed = False

    def receive_probe(self, message: str | bytes, now: float) -> tuple[str, list[Event]]:
        """A message on the probe WebSocket (before the upgrade completed)."""
        if self.state != STATE_OPEN or self.transport != POLLING:
            return PROBE_ABORT, []
        if message == "2probe":
            self.probed = True
            self.probed_at = now
            return PROBE_REPLY_SENT, []
        if message == "5":
            self.transport = WEBSOCKET
            self.probe_attached = False
            self.probed = False
            return PROBE_UPGRADED, [Upgraded()]
        self.detach_probe()
        return PROBE_ABORT, []
