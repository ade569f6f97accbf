"""The Engine.IO HTTP binding's rules, driven without a socket: which request opens, polls,
posts or upgrades, the error table as Node's server sends it, the close codes, the payload
measure."""

from __future__ import annotations

import json

import pytest
from taskchat.reference_server import engineio as eio
from taskchat.reference_server import engineio_http as http
from taskchat.reference_server.engineio_http import (
    EioError,
    Open,
    Poll,
    Post,
    Preflight,
    Probe,
    Refuse,
    close_code,
    route,
)

WS = {"upgrade": True, "ws_key": b"dGhlIHNhbXBsZSBub25jZQ==", "ws_version": b"13"}


def q(**kw: str) -> dict[str, list[str]]:
    return {k: [v] for k, v in kw.items()}


def test_polling_handshake_get_and_post() -> None:
    assert route("GET", q(EIO="4", transport="polling"), upgrade=False) == Open("polling")
    assert route("GET", q(EIO="4", transport="polling", sid="s"), upgrade=False) == Poll("s")
    assert route("POST", q(EIO="4", transport="polling", sid="s"), upgrade=False) == Post("s")


def test_websocket_handshake_and_probe() -> None:
    key = WS["ws_key"]
    assert route("GET", q(EIO="4", transport="websocket"), **WS) == Open("websocket", key)
    assert route("GET", q(EIO="4", transport="websocket", sid="s"), **WS) == Probe("s", key)


@pytest.mark.parametrize(
    ("method", "query", "kw", "error"),
    [
        ("GET", q(transport="polling"), {}, EioError.UNSUPPORTED_VERSION),
        ("GET", q(EIO="3", transport="polling"), {}, EioError.UNSUPPORTED_VERSION),
        ("GET", q(EIO="4"), {}, EioError.TRANSPORT_UNKNOWN),
        ("GET", q(EIO="4", transport="flash"), {}, EioError.TRANSPORT_UNKNOWN),
        ("POST", q(EIO="4", transport="polling"), {}, EioError.BAD_HANDSHAKE_METHOD),
        ("PUT", q(EIO="4", transport="polling", sid="s"), {}, EioError.BAD_HANDSHAKE_METHOD),
        ("GET", q(EIO="4", transport="polling"), WS, EioError.BAD_REQUEST),
        ("GET", q(EIO="4", transport="websocket"), {}, EioError.BAD_REQUEST),
        ("POST", q(EIO="4", transport="websocket"), WS, EioError.BAD_REQUEST),
        ("GET", q(EIO="4", transport="websocket"), {**WS, "ws_version": b"8"}, EioError.BAD_REQUEST),
        ("GET", q(EIO="4", transport="websocket"), {**WS, "ws_key": None}, EioError.BAD_REQUEST),
    ],
)
def test_refusals_use_the_binding_error_table(
    method: str, query: dict[str, list[str]], kw: dict[str, object], error: EioError
) -> None:
    kw = {"upgrade": False, **kw}
    assert route(method, query, **kw) == Refuse(error)  # type: ignore[arg-type]


def test_error_bodies_are_what_node_sends() -> None:
    assert json.loads(EioError.SID_UNKNOWN.body) == {"code": 1, "message": "Session ID unknown"}
    assert json.loads(EioError.UNSUPPORTED_VERSION.body) == {
        "code": 5, "message": "Unsupported protocol version",
    }


def test_cors_preflight_only_when_allowed() -> None:
    assert route("OPTIONS", {}, upgrade=False, cors=True) == Preflight()
    assert route("OPTIONS", q(EIO="4", transport="polling"), upgrade=False) == Refuse(
        EioError.BAD_HANDSHAKE_METHOD
    )


def test_the_101_accepts_the_key_as_rfc_6455_computes_it() -> None:
    headers = dict(http.accept_headers(b"dGhlIHNhbXBsZSBub25jZQ=="))
    assert headers[b"sec-websocket-accept"] == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC's example


def test_close_codes() -> None:
    assert close_code(eio.REASON_TRANSPORT_CLOSE) == 1000
    assert close_code(http.REASON_SHUTDOWN) == 1001
    assert close_code(eio.REASON_PAYLOAD_TOO_LARGE) == 1009
    # a violation the frame parser found says what the peer did wrong: it wins
    assert close_code(eio.REASON_TRANSPORT_ERROR, 1002) == 1002
    assert close_code(http.REASON_SHUTDOWN, 1007) == 1007


def test_post_answers() -> None:
    assert http.post_status_body(200) == (200, b"ok")
    assert http.post_status_body(413) == (413, b"payload too large")
    assert http.post_status_body(400) is EioError.BAD_REQUEST


def test_the_payload_limit_counts_utf8_bytes_everywhere() -> None:
    assert eio.payload_size("4abc") == 4
    assert eio.payload_size("4é") == 3  # two bytes on the wire
    assert eio.payload_size(b"\x00\x01") == 2
    s = eio.EngineSession(eio.WEBSOCKET, 0.0, max_payload=10)
    assert s.receive_ws("4" + "é" * 4, 0.0) != []  # 9 bytes: a message
    assert not s.closed
    s.receive_ws("4" + "é" * 5, 0.0)  # 11 bytes, though 6 code points
    assert s.closed and s.close_reason == eio.REASON_PAYLOAD_TOO_LARGE
