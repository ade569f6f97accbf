"""Sans-IO Socket.IO v5 server layer over one Engine.IO session.

Feed it each Engine.IO message (:meth:`SocketIOConnection.receive`); it returns Socket.IO events
(:class:`ConnectRequest`, :class:`EventReceived`, :class:`ClientDisconnected`) and writes its
replies (CONNECT, CONNECT_ERROR, ACK, DISCONNECT) to the Engine.IO session's queue.

Packets are decoded with python-socketio's ``socketio.packet.Packet`` (JSON by orjson) behind
guards: that codec accepts a packet type of 9, decodes "" as an EVENT, reads an attachment count
on any packet type, raises IndexError/TypeError on a bad binary placeholder and takes
``_placeholder: 1`` or ``num: -1`` or ``num: true`` as placeholders. A malformed packet closes this
session (reason ``"parse error"``) and never raises out of the layer.
"""

from __future__ import annotations

import json as _stdjson
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import orjson
from socketio import packet as sio_packet

from .engineio import (
    REASON_PARSE_ERROR,
    REASON_SLOW_CONSUMER,
    EngineSession,
    OutPacket,
)

CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = (
    sio_packet.CONNECT,
    sio_packet.DISCONNECT,
    sio_packet.EVENT,
    sio_packet.ACK,
    sio_packet.CONNECT_ERROR,
    sio_packet.BINARY_EVENT,
    sio_packet.BINARY_ACK,
)

REASON_CONNECT_TIMEOUT: Final = "connect timeout"
REASON_CLIENT_DISCONNECT: Final = "client namespace disconnect"
REASON_SERVER_DISCONNECT: Final = "server namespace disconnect"

# event names a client may not use (socket.io-parser's RESERVED_EVENTS)
RESERVED_EVENTS: Final = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
MAX_ATTACHMENTS: Final = 1000
INVALID_NAMESPACE: Final = {"message": "Invalid namespace"}


# -- JSON -----------------------------------------------------------------------------------


def json_dumps(obj: object) -> bytes:
    """Compact JSON as bytes: orjson, falling back to the standard library (int keys, lone
    surrogates, integers over 64 bits); raises TypeError/ValueError if neither can encode."""
    try:
        return orjson.dumps(obj)
    except TypeError:
        return _stdjson.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def json_loads(text: str | bytes) -> object:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # what orjson refuses but a JavaScript client may send: lone surrogate escapes
        try:
            return _stdjson.loads(text, parse_constant=_reject_constant)
        except RecursionError as exc:
            raise ValueError("too deeply nested") from exc


class _OrJson:
    """The ``json`` module interface python-socketio's Packet calls."""

    @staticmethod
    def loads(s: str | bytes) -> object:
        return json_loads(s)

    @staticmethod
    def dumps(obj: object, **_kw: object) -> str:
        return json_dumps(obj).decode()


class _Packet(sio_packet.Packet):
    json = _OrJson


# -- encoding -------------------------------------------------------------------------------


def _ns_prefix(namespace: str) -> bytes:
    return b"" if namespace == "/" else namespace.encode() + b","


def _has_binary(data: object) -> bool:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return True
    if isinstance(data, (list, tuple)):
        return any(_has_binary(x) for x in data)
    if isinstance(data, dict):
        return any(_has_binary(x) for x in data.values())
    return False


_HEADS: Final = {t: b"4%d" % t for t in range(7)}


def _encode(
    ptype: int, namespace: str, data: list[object], ack_id: int | None
) -> tuple[OutPacket, ...]:
    # the common case, encoded without the codec: "4" + type + [nsp,] + [id] + JSON. orjson
    # refuses bytes, so a success also says there is nothing binary (no walk over the data)
    body: bytes | None
    try:
        body = orjson.dumps(data)
    except TypeError:
        body = None if _has_binary(data) else json_dumps(data)
    if body is not None:
        head = _HEADS[ptype] if namespace == "/" else b"4%d" % ptype + _ns_prefix(namespace)
        if ack_id is not None:
            head += b"%d" % ack_id
        return (OutPacket(head + body),)
    pkt = _Packet(
        packet_type=ptype,
        data=[bytes(x) if isinstance(x, memoryview) else x for x in data],
        namespace=namespace,
        id=ack_id,
        binary=True,
    )
    encoded = pkt.encode()
    return (
        OutPacket(b"4" + encoded[0].encode()),
        *tuple(OutPacket(bytes(att), binary=True) for att in encoded[1:]),
    )


def encode_event(
    namespace: str, event: str, args: tuple[object, ...] | list[object]
) -> tuple[OutPacket, ...]:
    """The Engine.IO packets of one EVENT (or BINARY_EVENT with its attachments)."""
    return _encode(EVENT, namespace, [event, *args], None)


def encode_ack(
    namespace: str, ack_id: int, args: tuple[object, ...] | list[object]
) -> tuple[OutPacket, ...]:
    return _encode(ACK, namespace, list(args), ack_id)


def encode_connect(namespace: str, sid: str) -> OutPacket:
    return OutPacket(b"40" + _ns_prefix(namespace) + json_dumps({"sid": sid}))


def encode_connect_error(namespace: str, payload: object) -> OutPacket:
    return OutPacket(b"44" + _ns_prefix(namespace) + json_dumps(payload))


def encode_disconnect(namespace: str) -> OutPacket:
    if namespace == "/":
        return OutPacket(b"41")
    return OutPacket(b"41" + namespace.encode() + b",")


# -- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    namespace: str
    auth: object  # the CONNECT payload (a dict), {} when absent


@dataclass(frozen=True, slots=True)
class EventReceived:
    namespace: str
    event: str
    args: list[object]
    ack_id: int | None


@dataclass(frozen=True, slots=True)
class ClientDisconnected:
    namespace: str


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """The layer closed the Engine.IO session (malformed packet, connect timeout)."""

    reason: str


SioEvent = ConnectRequest | EventReceived | ClientDisconnected | ConnectionClosed

CONNECTING: Final = 0
CONNECTED: Final = 1


class Malformed(ValueError):
    pass


def _check_placeholders(data: object, count: int) -> None:
    """Every placeholder names an attachment that exists (what socket.io-parser checks)."""
    if isinstance(data, list):
        for item in data:
            _check_placeholders(item, count)
    elif isinstance(data, dict):
        ph = data.get("_placeholder")
        if ph:
            num = data.get("num")
            if ph is not True or type(num) is not int or not 0 <= num < count:
                raise Malformed("illegal attachments")
            return
        for value in data.values():
            _check_placeholders(value, count)


class _Namespace:
    __slots__ = ("acks", "pending", "state")

    def __init__(self) -> None:
        self.state = CONNECTING
        self.acks: dict[int, int] = {}  # ack id -> how many answers are owed
        self.pending: list[OutPacket] = []  # sent while the CONNECT is decided: go after it


class SocketIOConnection:
    """The Socket.IO state of one Engine.IO session: its namespaces, acks and reassembly."""

    __slots__ = (
        "_connect_deadline",
        "_partial",
        "_partial_size",
        "_send",
        "allowed",
        "engine",
        "namespaces",
    )

    def __init__(
        self,
        engine: EngineSession,
        now: float,
        *,
        namespaces: tuple[str, ...] | frozenset[str] = ("/",),
        connect_timeout: float = 45.0,
        send: Callable[[tuple[OutPacket, ...]], bool] | None = None,
    ) -> None:
        self.engine = engine
        # where replies go: the Engine.IO queue, or the transport's own send (which also
        # wakes its writer)
        self._send = send or engine.send_many
        self.allowed = frozenset(namespaces)
        self.namespaces: dict[str, _Namespace] = {}
        self._partial: _Packet | None = None  # a binary packet waiting for its attachments
        self._partial_size = 0
        self._connect_deadline: float | None = now + connect_timeout

    # -- timers ---------------------------------------------------------------------------

    def next_deadline(self) -> float:
        d = self._connect_deadline
        return float("inf") if d is None else d

    def handle_timers(self, now: float) -> list[SioEvent]:
        d = self._connect_deadline
        if d is None or now < d:
            return []
        self._connect_deadline = None
        if self.namespaces or self.engine.closed:
            return []
        self.engine.abort(REASON_CONNECT_TIMEOUT)
        return [ConnectionClosed(REASON_CONNECT_TIMEOUT)]

    # -- inbound --------------------------------------------------------------------------

    def receive(self, data: str | bytes) -> list[SioEvent]:
        """One Engine.IO message. Never raises: a malformed packet closes the session."""
        if self.engine.closed:
            return []
        try:
            if isinstance(data, str):
                return self._receive_text(data)
            return self._receive_binary(data)
        except Exception:
            self._partial = None
            self.engine.abort(REASON_PARSE_ERROR)
            return [ConnectionClosed(REASON_PARSE_ERROR)]

    def _receive_binary(self, data: bytes) -> list[SioEvent]:
        pkt = self._partial
        if pkt is None:
            raise Malformed("binary data when no packet waits for attachments")
        self._partial_size += len(data)
        if self._partial_size > self.engine.max_payload:
            raise Malformed("attachments over max_payload")  # in total, not only each
        if not pkt.add_attachment(bytes(data)):
            return []
        self._partial = None
        return self._dispatch(pkt)

    def _receive_text(self, text: str) -> list[SioEvent]:
        if self._partial is not None:
            raise Malformed("text while a packet waits for its attachments")
        if not text or text[0] not in "0123456":
            raise Malformed("unknown packet type")
        binary = text[0] in "56"
        if binary:
            # "<type><count>-": socket.io-parser requires the count on binary packets
            dash = text.find("-", 1)
            if dash < 2 or not text[1:dash].isdigit() or not text[1:dash].isascii():
                raise Malformed("illegal attachments")
        pkt = _Packet(encoded_packet=text)
        count = pkt.attachment_count
        if not binary and count:
            raise Malformed("attachments on a non-binary packet")
        if count > MAX_ATTACHMENTS:
            raise Malformed("too many attachments")
        ns = pkt.namespace or "/"
        pkt.namespace = ns
        data = pkt.data
        ptype = pkt.packet_type
        if ptype == CONNECT:
            if data is not None and not isinstance(data, dict):
                raise Malformed("CONNECT payload must be an object")
        elif ptype == DISCONNECT:
            if data is not None:
                raise Malformed("DISCONNECT takes no payload")
        elif ptype in (EVENT, BINARY_EVENT):
            if (
                not isinstance(data, list)
                or not data
                or not isinstance(data[0], str)
                or data[0] in RESERVED_EVENTS
            ):
                raise Malformed("EVENT payload must be [name, ...args]")
        elif ptype in (ACK, BINARY_ACK):
            if not isinstance(data, list):
                raise Malformed("ACK payload must be an array")
        else:  # CONNECT_ERROR is server -> client only
            raise Malformed("unexpected packet type")
        if pkt.id is not None and not text.isascii():
            # the codec reads the id with str.isdigit() and int(), which take non-ASCII digits
            end = min((i for i in (text.find("["), text.find("{")) if i >= 0), default=len(text))
            i = end
            while i and text[i - 1].isdigit():
                i -= 1
            if not text[i:end].isascii():
                raise Malformed("invalid ack id")
        if binary:
            _check_placeholders(data, count)
            if count:
                self._partial = pkt
                self._partial_size = len(text)
                return []
        return self._dispatch(pkt)

    def _dispatch(self, pkt: _Packet) -> list[SioEvent]:
        ns = pkt.namespace
        ptype = pkt.packet_type
        state = self.namespaces.get(ns)
        if ptype == CONNECT:
            if state is not None:
                raise Malformed("CONNECT to a namespace already connected")
            if ns not in self.allowed:
                self._send((encode_connect_error(ns, INVALID_NAMESPACE),))
                return []
            self.namespaces[ns] = _Namespace()
            return [ConnectRequest(ns, pkt.data if pkt.data is not None else {})]
        if state is None:
            return []  # not connected there (any more): ignored, as after a server disconnect
        if ptype == DISCONNECT:
            del self.namespaces[ns]
            return [ClientDisconnected(ns)]
        if ptype in (EVENT, BINARY_EVENT):
            data = pkt.data
            ack_id = pkt.id
            if ack_id is not None:
                state.acks[ack_id] = state.acks.get(ack_id, 0) + 1
            return [EventReceived(ns, data[0], data[1:], ack_id)]
        return []  # an ACK: this server never asks the client for one

    # -- outbound -------------------------------------------------------------------------

    def accept(self, namespace: str, sid: str) -> bool:
        """Answer a pending CONNECT with the socket's sid. False if the client left meanwhile."""
        state = self.namespaces.get(namespace)
        if state is None or state.state != CONNECTING or self.engine.closed:
            return False
        state.state = CONNECTED
        pending, state.pending = state.pending, []
        # the CONNECT reply and what was sent meanwhile go out as separate writes, as from
        # Node's server (a client that reads one message at a time may rely on it)
        ok = self._send((encode_connect(namespace, sid),))
        if ok and pending:
            ok = self._send(tuple(pending))
        return ok

    def refuse(self, namespace: str, payload: object) -> None:
        """Answer a pending CONNECT with CONNECT_ERROR."""
        state = self.namespaces.get(namespace)
        if state is None or state.state != CONNECTING:
            return
        del self.namespaces[namespace]
        self._send((encode_connect_error(namespace, payload),))

    def is_connected(self, namespace: str) -> bool:
        state = self.namespaces.get(namespace)
        return state is not None and state.state == CONNECTED

    def send_ack(
        self, namespace: str, ack_id: int, args: tuple[object, ...] | list[object]
    ) -> bool:
        """Answer one ack id. RuntimeError if it is not owed (never asked, or answered already);
        False if it could not be queued (the socket or the session is gone)."""
        state = self.namespaces.get(namespace)
        if state is None:
            return False
        pkts = encode_ack(namespace, ack_id, args)  # first: an unencodable answer owes still
        owed = state.acks.get(ack_id, 0)
        if owed <= 0:
            raise RuntimeError(f"ack {ack_id} on {namespace} is not owed (answered already?)")
        if owed == 1:
            del state.acks[ack_id]
        else:
            state.acks[ack_id] = owed - 1
        return self.send(namespace, pkts)

    def send(self, namespace: str, pkts: tuple[OutPacket, ...]) -> bool:
        """Send encoded packets (an event: see :func:`encode_event`, encoded once for every
        recipient) to one namespace. While its CONNECT is being decided they wait and go out
        right after the CONNECT reply, within the same bound as the session's queue (over it,
        the session closes as a slow consumer). False if not sent (not connected there, or
        the session closed)."""
        state = self.namespaces.get(namespace)
        if state is None or self.engine.closed:
            return False
        if state.state == CONNECTED:
            return self._send(pkts)
        state.pending.extend(pkts)
        if len(state.pending) > self.engine.queue_limit:
            state.pending = []
            self.engine.abort(REASON_SLOW_CONSUMER)
            return False
        return True

    def disconnect(self, namespace: str) -> bool:
        """Server-side disconnect of one namespace: sends DISCONNECT."""
        state = self.namespaces.pop(namespace, None)
        if state is None:
            return False
        if state.state == CONNECTED:
            self._send((encode_disconnect(namespace),))
        return True
