"""The client side's own Engine.IO v4 / Socket.IO v5 codec, for WebSocket frames.

It deliberately does not use python-socketio's or python-engineio's packet classes: the reference
server encodes and decodes with them, and a client that shared the server's codec would agree
with any codec bug the server has, so a conformance check could never see it. This module is
written from the protocol documents alone (engine.io-protocol v4, socket.io-protocol v5) and is
strict: a frame that breaks the grammar raises :class:`WireError`, so a server's malformed output
becomes a finding instead of a silent guess.

Frame grammar (WebSocket transport; text frames carry the Engine.IO type as their first char):

    <eio type>[<payload>]                    0 open, 1 close, 2 ping, 3 pong, 4 message,
                                             5 upgrade, 6 noop
    4<sio type>[<n>-][<nsp>,][<ack id>][<json>]
                                             sio: 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK,
                                             4 CONNECT_ERROR, 5 BINARY_EVENT, 6 BINARY_ACK

Binary attachments travel as separate binary WebSocket frames after the text header, and the
header's JSON holds ``{"_placeholder": true, "num": i}`` where attachment ``i`` goes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import orjson

# Engine.IO v4 packet types
EIO_OPEN = 0
EIO_CLOSE = 1
EIO_PING = 2
EIO_PONG = 3
EIO_MESSAGE = 4
EIO_UPGRADE = 5
EIO_NOOP = 6

# Socket.IO v5 packet types
SIO_CONNECT = 0
SIO_DISCONNECT = 1
SIO_EVENT = 2
SIO_ACK = 3
SIO_CONNECT_ERROR = 4
SIO_BINARY_EVENT = 5
SIO_BINARY_ACK = 6

# Names of the Socket.IO event names a client may not emit (socket.io's reserved events).
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)

PONG_FRAME = "3"
DISCONNECT_FRAME = "41"


class WireError(ValueError):
    """A frame that is not valid Engine.IO v4 / Socket.IO v5."""


@dataclass(frozen=True, slots=True)
class Packet:
    """One decoded frame.

    ``sio_type`` is None unless ``eio_type`` is MESSAGE. ``data`` is the JSON payload (for
    OPEN: the handshake object; for PING/PONG: the probe string or None; for EVENT: the list
    ``[event, *args]``; for ACK: the args list). ``attachments`` counts the binary frames that
    follow a BINARY_EVENT / BINARY_ACK header.
    """

    eio_type: int
    sio_type: int | None = None
    namespace: str = "/"
    ack_id: int | None = None
    data: Any = None
    attachments: int = 0

    @property
    def event(self) -> str | None:
        """The event name of an EVENT / BINARY_EVENT packet."""
        if self.sio_type in (SIO_EVENT, SIO_BINARY_EVENT):
            name: str = self.data[0]
            return name
        return None

    @property
    def args(self) -> list[Any]:
        """The arguments of an EVENT (without its name) or an ACK."""
        if self.sio_type in (SIO_EVENT, SIO_BINARY_EVENT):
            return list(self.data[1:])
        if self.sio_type in (SIO_ACK, SIO_BINARY_ACK):
            return list(self.data)
        return []


def _dumps(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:
        try:  # a lone surrogate, which orjson refuses: JSON spells it as an escape (\\ud800)
            return json.dumps(value, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            raise WireError(f"not JSON-serialisable: {exc}") from None


def _nsp_prefix(namespace: str) -> str:
    if not namespace.startswith("/"):
        raise WireError(f"namespace must start with '/': {namespace!r}")
    if "," in namespace:
        raise WireError(f"namespace must not contain ',': {namespace!r}")
    return "" if namespace == "/" else namespace + ","


def _ack_part(ack_id: int | None) -> str:
    if ack_id is None:
        return ""
    if isinstance(ack_id, bool) or not isinstance(ack_id, int) or ack_id < 0:
        raise WireError(f"ack id must be a non-negative int: {ack_id!r}")
    return str(ack_id)


def encode_connect(auth: dict[str, Any] | None, namespace: str = "/") -> str:
    """The Socket.IO CONNECT, inside its Engine.IO MESSAGE: ``40{"token":"…"}``."""
    body = "" if auth is None else _dumps(auth)
    return "40" + _nsp_prefix(namespace) + body


def encode_disconnect(namespace: str = "/") -> str:
    return "41" + _nsp_prefix(namespace)


def encode_event(
    event: str, args: list[Any] | tuple[Any, ...], ack_id: int | None = None, namespace: str = "/"
) -> str:
    """An EVENT packet: ``42[ack id]["event", ...args]``."""
    if not isinstance(event, str):
        raise WireError(f"event name must be a string: {event!r}")
    return "42" + _nsp_prefix(namespace) + _ack_part(ack_id) + _dumps([event, *args])


def encode_ack(args: list[Any], ack_id: int, namespace: str = "/") -> str:
    """An ACK packet the client sends back for a server's event with an ack id."""
    return "43" + _nsp_prefix(namespace) + _ack_part(ack_id) + _dumps(list(args))


def has_binary(value: Any) -> bool:
    """Whether bytes occur anywhere inside ``value`` (so it must go as a BINARY_EVENT)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return True
    if isinstance(value, list | tuple):
        return any(has_binary(v) for v in value)
    if isinstance(value, dict):
        return any(has_binary(v) for v in value.values())
    return False


def _deconstruct(value: Any, buffers: list[bytes]) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        buffers.append(bytes(value))
        return {"_placeholder": True, "num": len(buffers) - 1}
    if isinstance(value, list | tuple):
        return [_deconstruct(v, buffers) for v in value]
    if isinstance(value, dict):
        return {k: _deconstruct(v, buffers) for k, v in value.items()}
    return value


def encode_binary_event(
    event: str,
    args_with_bytes: list[Any] | tuple[Any, ...],
    ack_id: int | None = None,
    namespace: str = "/",
) -> list[str | bytes]:
    """A BINARY_EVENT: the text header with placeholders, then each attachment as bytes."""
    if not isinstance(event, str):
        raise WireError(f"event name must be a string: {event!r}")
    buffers: list[bytes] = []
    data = _deconstruct([event, *args_with_bytes], buffers)
    header = f"45{len(buffers)}-" + _nsp_prefix(namespace) + _ack_part(ack_id) + _dumps(data)
    return [header, *buffers]


def reconstruct(data: Any, buffers: list[bytes]) -> Any:
    """Put the attachments back where a binary packet's placeholders are."""
    if isinstance(data, list):
        return [reconstruct(v, buffers) for v in data]
    if isinstance(data, dict):
        if data.get("_placeholder") is True and "num" in data:
            num = data["num"]
            if isinstance(num, bool) or not isinstance(num, int) or not 0 <= num < len(buffers):
                raise WireError(f"placeholder names attachment {num!r} of {len(buffers)}")
            return buffers[num]
        return {k: reconstruct(v, buffers) for k, v in data.items()}
    return data


def _loads(text: str, frame: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"bad JSON in frame {frame[:80]!r}: {exc}") from None


def decode(frame: str) -> Packet:
    """Decode one text frame. Raises WireError when the frame breaks the grammar."""
    if not isinstance(frame, str):
        raise WireError(f"a text frame must be str, got {type(frame).__name__}")
    if not frame:
        raise WireError("empty frame")
    head = frame[0]
    if not "0" <= head <= "6":
        raise WireError(f"unknown Engine.IO packet type {head!r} in {frame[:80]!r}")
    eio_type = ord(head) - 48
    rest = frame[1:]
    if eio_type == EIO_OPEN:
        data = _loads(rest, frame)
        if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
            raise WireError(f"OPEN payload must be an object with a sid: {frame[:80]!r}")
        return Packet(EIO_OPEN, data=data)
    if eio_type != EIO_MESSAGE:
        if eio_type in (EIO_CLOSE, EIO_NOOP, EIO_UPGRADE) and rest:
            raise WireError(f"Engine.IO type {eio_type} carries no payload: {frame[:80]!r}")
        return Packet(eio_type, data=rest or None)
    return _decode_sio(rest, frame)


def _decode_sio(body: str, frame: str) -> Packet:
    if not body:
        raise WireError("Engine.IO MESSAGE without a Socket.IO packet")
    head = body[0]
    if not "0" <= head <= "6":
        raise WireError(f"unknown Socket.IO packet type {head!r} in {frame[:80]!r}")
    sio_type = ord(head) - 48
    i = 1
    n = len(body)
    attachments = 0
    if sio_type in (SIO_BINARY_EVENT, SIO_BINARY_ACK):
        dash = body.find("-", i)
        count = body[i:dash] if dash > 0 else ""
        if not count.isdigit() or not count.isascii():
            raise WireError(f"binary packet without an attachment count: {frame[:80]!r}")
        attachments = int(count)
        i = dash + 1
    namespace = "/"
    if i < n and body[i] == "/":
        comma = body.find(",", i)
        if comma < 0:
            # a namespace with nothing after it is the whole rest of the packet
            namespace = body[i:]
            i = n
        else:
            namespace = body[i:comma]
            i = comma + 1
    start = i
    while i < n and "0" <= body[i] <= "9":
        i += 1
    ack_id = int(body[start:i]) if i > start else None
    data: Any = _loads(body[i:], frame) if i < n else None
    _check_shape(sio_type, ack_id, data, frame)
    return Packet(EIO_MESSAGE, sio_type, namespace, ack_id, data, attachments)


def _check_shape(sio_type: int, ack_id: int | None, data: Any, frame: str) -> None:
    if sio_type in (SIO_EVENT, SIO_BINARY_EVENT):
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            raise WireError(f"EVENT payload must be [name, ...args]: {frame[:80]!r}")
    elif sio_type in (SIO_ACK, SIO_BINARY_ACK):
        if ack_id is None:
            raise WireError(f"ACK without an ack id: {frame[:80]!r}")
        if not isinstance(data, list):
            raise WireError(f"ACK payload must be a list: {frame[:80]!r}")
    elif sio_type == SIO_CONNECT:
        if data is not None and not isinstance(data, dict):
            raise WireError(f"CONNECT payload must be an object: {frame[:80]!r}")
    elif sio_type == SIO_CONNECT_ERROR:
        if not isinstance(data, dict):
            raise WireError(f"CONNECT_ERROR payload must be an object: {frame[:80]!r}")
    elif sio_type == SIO_DISCONNECT and data is not None:
        raise WireError(f"DISCONNECT carries no payload: {frame[:80]!r}")
    if ack_id is not None and sio_type not in (
        SIO_EVENT,
        SIO_BINARY_EVENT,
        SIO_ACK,
        SIO_BINARY_ACK,
    ):
        raise WireError(f"only events and acks carry an ack id: {frame[:80]!r}")
