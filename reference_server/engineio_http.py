"""Sans-IO Engine.IO v4 over HTTP: which request opens, polls, posts to or upgrades a session,
and what the server answers when it does not (the binding's error table, as the Node.js server
sends it); which WebSocket close code a session's end maps to; how a payload is measured.

Like :mod:`taskchat.reference_server.engineio`, nothing here touches a socket or a clock: the
shell (``transport/``) parses HTTP with h11, hands :func:`route` the method, the query and the
few headers that matter, and acts on the :data:`Route` it gets back. The tests drive every rule
here directly (``tests/reference_server/test_engineio_http.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

import orjson
from wsproto.utilities import generate_accept_token

from . import engineio as eio


class EioError(Enum):
    """Engine.IO's HTTP error codes, as the Node.js server sends them (400 + JSON body)."""

    TRANSPORT_UNKNOWN = (0, "Transport unknown")
    SID_UNKNOWN = (1, "Session ID unknown")
    BAD_HANDSHAKE_METHOD = (2, "Bad handshake method")
    BAD_REQUEST = (3, "Bad request")
    UNSUPPORTED_VERSION = (5, "Unsupported protocol version")

    @property
    def body(self) -> bytes:
        code, message = self.value
        return orjson.dumps({"code": code, "message": message})


# -- routes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Preflight:
    """A CORS preflight (only when the server allows a cross-origin caller)."""


@dataclass(frozen=True, slots=True)
class Refuse:
    error: EioError


@dataclass(frozen=True, slots=True)
class Open:
    """A handshake: a new session on ``transport`` (on WebSocket, after the 101)."""

    transport: str
    ws_key: bytes = b""


@dataclass(frozen=True, slots=True)
class Probe:
    """A WebSocket for an existing (polling) session: the upgrade's probe."""

    sid: str
    ws_key: bytes = b""


@dataclass(frozen=True, slots=True)
class Poll:
    """A long-polling GET."""

    sid: str


@dataclass(frozen=True, slots=True)
class Post:
    """A long-polling POST (its body was read, unless it was over the limit)."""

    sid: str


Route = Preflight | Refuse | Open | Probe | Poll | Post

WEBSOCKET_VERSION: Final = b"13"


def route(
    method: str,
    query: dict[str, list[str]],
    *,
    upgrade: bool,
    ws_key: bytes | None = None,
    ws_version: bytes | None = None,
    cors: bool = False,
) -> Route:
    """What one request under an Engine.IO path asks for.

    ``upgrade``: the request asks for a WebSocket (an ``Upgrade: websocket`` header);
    ``ws_key``/``ws_version``: its ``Sec-WebSocket-Key`` and ``-Version``; ``cors``: the
    server answers cross-origin preflights. Whether a named session exists is the caller's to
    check (:attr:`EioError.SID_UNKNOWN`)."""
    if method == "OPTIONS" and cors:
        return Preflight()
    if query.get("EIO") != ["4"]:
        return Refuse(EioError.UNSUPPORTED_VERSION)
    transport = query.get("transport", [None])[0]
    if transport not in (eio.POLLING, eio.WEBSOCKET):
        return Refuse(EioError.TRANSPORT_UNKNOWN)
    sid = query.get("sid", [None])[0]
    if transport == eio.WEBSOCKET:
        if method != "GET" or not upgrade or not ws_key or ws_version != WEBSOCKET_VERSION:
            return Refuse(EioError.BAD_REQUEST)
        return Open(eio.WEBSOCKET, ws_key) if sid is None else Probe(sid, ws_key)
    if upgrade:  # a WebSocket request that says transport=polling
        return Refuse(EioError.BAD_REQUEST)
    if sid is None:
        return Open(eio.POLLING) if method == "GET" else Refuse(EioError.BAD_HANDSHAKE_METHOD)
    if method == "GET":
        return Poll(sid)
    if method == "POST":
        return Post(sid)
    return Refuse(EioError.BAD_HANDSHAKE_METHOD)


def accept_headers(ws_key: bytes) -> list[tuple[bytes, bytes]]:
    """The 101 response's headers for a WebSocket handshake (RFC 6455 section 4.2.2)."""
    return [
        (b"upgrade", b"websocket"),
        (b"connection", b"Upgrade"),
        (b"sec-websocket-accept", generate_accept_token(ws_key)),
    ]


def post_status_body(status: int) -> tuple[int, bytes] | EioError:
    """The answer to a POST, from :meth:`EngineSession.receive_post`'s status."""
    if status == 200:
        return 200, b"ok"
    if status == 413:
        return 413, b"payload too large"
    return EioError.BAD_REQUEST


# -- WebSocket close codes (RFC 6455 section 7.4.1) -----------------------------------------

WS_NORMAL: Final = 1000
WS_GOING_AWAY: Final = 1001
WS_PROTOCOL_ERROR: Final = 1002
WS_INVALID_DATA: Final = 1007  # e.g. a text message that is not UTF-8
WS_TOO_BIG: Final = 1009

REASON_SHUTDOWN: Final = "server shutting down"


def close_code(reason: str, protocol_error: int | None = None) -> int:
    """The close frame's code for a session that ended with ``reason``. ``protocol_error`` is
    the code of a WebSocket-level violation the frame parser found (1002, 1007, 1009): it wins,
    since it says what the peer did wrong."""
    if protocol_error is not None:
        return protocol_error
    if reason == REASON_SHUTDOWN:
        return WS_GOING_AWAY
    if reason == eio.REASON_PAYLOAD_TOO_LARGE:
        return WS_TOO_BIG
    return WS_NORMAL

