"""Sans-IO Socket.IO v5 layer: connect/auth, namespaces, events and acks, binary, bad input."""

from __future__ import annotations

import json

import pytest
from taskchat.reference_server import engineio as eio
from taskchat.reference_server import socketio_protocol as sio
from taskchat.reference_server.engineio import EngineSession
from taskchat.reference_server.socketio_protocol import (
    ClientDisconnected,
    ConnectionClosed,
    ConnectRequest,
    EventReceived,
    SocketIOConnection,
)

T0 = 500.0


def make(namespaces: tuple[str, ...] = ("/",), connect_timeout: float = 45.0) -> SocketIOConnection:
    engine = EngineSession(eio.WEBSOCKET, T0)
    return SocketIOConnection(engine, T0, namespaces=namespaces, connect_timeout=connect_timeout)


def out(c: SocketIOConnection) -> list[bytes]:
    return [p.data for p in c.engine.take()]


def connected(namespaces: tuple[str, ...] = ("/",)) -> SocketIOConnection:
    c = make(namespaces)
    assert c.receive("0") == [ConnectRequest("/", {})]
    assert c.accept("/", "SID")
    assert out(c) == [b'40{"sid":"SID"}']
    return c


def assert_closed(c: SocketIOConnection, events: list) -> None:
    assert events == [ConnectionClosed(eio.REASON_PARSE_ERROR)]
    assert c.engine.closed and c.engine.close_reason == "parse error"


# -- connect --------------------------------------------------------------------------------


def test_connect_with_auth_and_accept() -> None:
    c = make()
    assert c.receive('0{"token":"123"}') == [ConnectRequest("/", {"token": "123"})]
    assert not c.is_connected("/")
    assert c.accept("/", "abc")
    assert c.is_connected("/")
    assert out(c) == [b'40{"sid":"abc"}']


def test_connect_refused_sends_connect_error() -> None:
    c = make()
    c.receive("0")
    c.refuse("/", {"message": "no", "data": {"code": "AUTH_REQUIRED"}})
    assert out(c) == [b'44{"message":"no","data":{"code":"AUTH_REQUIRED"}}']
    assert not c.engine.closed
    assert c.receive("0") == [ConnectRequest("/", {})]  # may try again


def test_unknown_namespace_gets_invalid_namespace() -> None:
    c = make()
    assert c.receive("0/random") == []
    assert c.receive('0/admin,{"token":"x"}') == []
    assert out(c) == [
        b'44/random,{"message":"Invalid namespace"}',
        b'44/admin,{"message":"Invalid namespace"}',
    ]
    assert not c.engine.closed


def test_custom_namespace_when_configured() -> None:
    c = make(("/", "/custom"))
    assert c.receive("0/custom,") == [ConnectRequest("/custom", {})]
    c.accept("/custom", "S2")
    assert out(c) == [b'40/custom,{"sid":"S2"}']
    assert c.receive('2/custom,["x",1]') == [EventReceived("/custom", "x", [1], None)]


@pytest.mark.parametrize("bad", ["0[]", '0"token"', "0true", "0null-ish"])
def test_connect_payload_must_be_an_object(bad: str) -> None:
    c = make()
    assert_closed(c, c.receive(bad))


def test_second_connect_to_same_namespace_closes() -> None:
    c = connected()
    assert_closed(c, c.receive("0"))


def test_connect_timeout() -> None:
    c = make(connect_timeout=1.0)
    assert c.next_deadline() == T0 + 1
    assert c.handle_timers(T0 + 0.99) == []
    assert c.handle_timers(T0 + 1) == [ConnectionClosed(sio.REASON_CONNECT_TIMEOUT)]
    assert c.engine.closed


def test_connect_timeout_spares_a_connected_client() -> None:
    c = connected()
    assert c.handle_timers(T0 + 100) == []
    assert not c.engine.closed
    assert c.next_deadline() == float("inf")


def test_connect_timeout_spares_a_pending_connect() -> None:
    c = make(connect_timeout=1.0)
    c.receive("0")  # on_connect still running
    assert c.handle_timers(T0 + 5) == []


def test_what_is_sent_while_connect_is_decided_follows_the_connect_reply() -> None:
    c = make()
    c.receive("0")
    assert c.receive('21["early",1]') == [EventReceived("/", "early", [1], 1)]
    assert c.send("/", sio.encode_event("/", "auth", [{}]))  # one route out, events and acks
    assert c.send_ack("/", 1, ["ok"])
    assert out(c) == []  # nothing before the CONNECT reply
    assert c.accept("/", "SID")
    assert out(c) == [b'40{"sid":"SID"}', b'42["auth",{}]', b'431["ok"]']
    assert not c.send("/other", sio.encode_event("/other", "x", []))  # not connected there


def test_what_waits_for_the_connect_is_bounded_like_the_queue() -> None:
    engine = EngineSession(eio.WEBSOCKET, T0, queue_limit=3)
    c = SocketIOConnection(engine, T0)
    c.receive("0")
    pkt = sio.encode_event("/", "x", [])
    assert c.send("/", pkt) and c.send("/", pkt) and c.send("/", pkt)
    assert not c.send("/", pkt)
    assert engine.closed and engine.close_reason == eio.REASON_SLOW_CONSUMER


# -- events and acks ------------------------------------------------------------------------


def test_event_without_and_with_ack() -> None:
    c = connected()
    assert c.receive('2["message",1,"2",{"3":[true]}]') == [
        EventReceived("/", "message", [1, "2", {"3": [True]}], None)
    ]
    assert c.receive('2456["message-with-ack",1]') == [
        EventReceived("/", "message-with-ack", [1], 456)
    ]


def test_ack_is_answered_exactly_once() -> None:
    c = connected()
    c.receive('27["send",{"a":1}]')
    assert c.send_ack("/", 7, ({"ok": True},))
    assert out(c) == [b'437[{"ok":true}]']
    with pytest.raises(RuntimeError):
        c.send_ack("/", 7, ({"ok": True},))
    with pytest.raises(RuntimeError):
        c.send_ack("/", 8, ())  # never asked
    assert out(c) == []


def test_reused_ack_id_is_owed_once_per_event() -> None:
    c = connected()
    c.receive('21["a"]')
    c.receive('21["b"]')
    assert c.send_ack("/", 1, ())
    assert c.send_ack("/", 1, ())
    with pytest.raises(RuntimeError):
        c.send_ack("/", 1, ())


def test_unencodable_ack_stays_owed() -> None:
    c = connected()
    c.receive('23["x"]')
    with pytest.raises(TypeError):
        c.send_ack("/", 3, (object(),))
    assert c.send_ack("/", 3, ("fine",))


def test_events_while_connecting_are_delivered_and_elsewhere_ignored() -> None:
    c = make(("/", "/custom"))
    c.receive("0")
    assert c.receive('2["early"]') == [EventReceived("/", "early", [], None)]
    assert c.receive('2/custom,["nobody"]') == []  # not connected there: ignored
    assert not c.engine.closed


def test_client_disconnect_and_reconnect() -> None:
    c = connected()
    assert c.receive("1") == [ClientDisconnected("/")]
    assert c.receive('2["gone"]') == []
    assert c.receive("0") == [ConnectRequest("/", {})]


def test_server_disconnect_sends_disconnect() -> None:
    c = connected(("/", "/custom"))
    c.receive("0/custom,")
    c.accept("/custom", "S2")
    out(c)
    assert c.disconnect("/custom")
    assert c.disconnect("/")
    assert not c.disconnect("/")
    assert out(c) == [b"41/custom,", b"41"]


def test_ack_after_disconnect_is_dropped() -> None:
    c = connected()
    c.receive('25["x"]')
    c.receive("1")
    assert c.send_ack("/", 5, ()) is False


# -- binary ---------------------------------------------------------------------------------


def test_binary_event_reassembly() -> None:
    c = connected()
    header = '52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]'
    assert c.receive(header) == []
    assert c.receive(b"\x01\x02\x03") == []
    assert c.receive(b"\x04\x05\x06") == [
        EventReceived("/", "message", [b"\x01\x02\x03", b"\x04\x05\x06"], None)
    ]


def test_binary_event_with_ack_and_zero_attachments() -> None:
    c = connected()
    assert c.receive('51-789["m",{"_placeholder":true,"num":0}]') == []
    assert c.receive(b"x") == [EventReceived("/", "m", [b"x"], 789)]
    assert c.receive('50-["m",1]') == [EventReceived("/", "m", [1], None)]


def test_binary_encoding_of_events_and_acks() -> None:
    pkts = sio.encode_event("/", "message-back", (b"\x01\x02\x03", {"k": b"\x04"}))
    assert [p.data for p in pkts] == [
        b'452-["message-back",{"_placeholder":true,"num":0},{"k":{"_placeholder":true,"num":1}}]',
        b"\x01\x02\x03",
        b"\x04",
    ]
    assert [p.binary for p in pkts] == [False, True, True]
    acks = sio.encode_ack("/custom", 789, (b"\x01",))
    assert acks[0].data == b'461-/custom,789[{"_placeholder":true,"num":0}]'


@pytest.mark.parametrize(
    "header",
    [
        '51-["m",{"_placeholder":true,"num":1}]',  # index out of range (codec: IndexError)
        '51-["m",{"_placeholder":true,"num":-1}]',  # a valid Python index, not a valid one
        '52-["m",{"_placeholder":true,"num":true}]',  # bool is an int in Python
        '51-["m",{"_placeholder":true,"num":"0"}]',  # codec: TypeError
        '51-["m",{"_placeholder":true,"num":0.0}]',
        '51-["m",{"_placeholder":1,"num":0}]',  # socket.io-parser wants === true
        '51-["m",{"_placeholder":true}]',
        '5["m",1]',  # a binary packet must carry its attachment count
        '5-1["m"]',
        '5\u0661-["m",{"_placeholder":true,"num":0}]',  # a non-ASCII digit count
        '51001-["m"]',  # too many attachments
    ],
)
def test_bad_binary_headers_close(header: str) -> None:
    c = connected()
    assert_closed(c, c.receive(header))


def test_attachments_are_bounded_by_max_payload_in_total() -> None:
    engine = EngineSession(eio.WEBSOCKET, T0, max_payload=200)
    c = SocketIOConnection(engine, T0)
    c.receive("0")
    c.accept("/", "S")
    header = '53-["m"' + ',{"_placeholder":true,"num":%d}' * 3 % (0, 1, 2) + "]"  # 104 chars
    assert c.receive(header) == []
    assert c.receive(b"x" * 60) == []  # each attachment is under max_payload,
    assert_closed(c, c.receive(b"x" * 60))  # the packet is not


def test_text_while_waiting_for_attachments_closes() -> None:
    c = connected()
    c.receive('51-["m",{"_placeholder":true,"num":0}]')
    assert_closed(c, c.receive('2["x"]'))


def test_binary_without_header_closes() -> None:
    c = connected()
    assert_closed(c, c.receive(b"\x00"))


# -- malformed ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "",  # the codec decodes "" as an EVENT
        "9",  # the codec takes any digit as the type
        "7[]",
        "abc",
        '\u0662["x"]',  # a non-ASCII digit type
        "2{}",  # EVENT payload not an array
        "2[]",
        "2[1]",  # event name not a string
        '2["connect"]',  # reserved name
        '2abc["message-with-ack",1]',  # invalid ack id
        '21-["x"]',  # attachment count on a non-binary packet
        '2["x"',  # bad JSON
        "2" + "[" * 5000 + "]" * 5000,  # too deep
        '2["x",NaN]',
        '3{"a":1}',  # ACK payload not an array
        "1{}",  # DISCONNECT with payload
        '4{"message":"x"}',  # CONNECT_ERROR is server -> client
        '2\u0663["x"]',  # a non-ASCII digit read as an ack id
        "0\u0663",
    ],
)
def test_malformed_packets_close_the_session(bad: str) -> None:
    c = connected()
    assert_closed(c, c.receive(bad))
    assert c.receive('2["after"]') == []  # nothing more from a closed session


def test_client_ack_packets_are_ignored() -> None:
    c = connected()
    assert c.receive("31[]") == []
    assert not c.engine.closed


def test_json_edge_cases() -> None:
    c = connected()
    # a lone surrogate escape (what JSON.stringify writes for one); a huge integer
    assert c.receive('2["x","\\ud800"]') == [EventReceived("/", "x", ["\ud800"], None)]
    ev = c.receive('2["x",123456789012345678901234567890]')
    assert ev == [EventReceived("/", "x", [1.2345678901234568e29], None)]  # as in JavaScript
    # encoding falls back to the standard library where orjson refuses
    pkt = sio.encode_event("/", "y", ({1: "int key"}, "\ud800"))[0]
    assert json.loads(pkt.data[2:]) == ["y", {"1": "int key"}, "\ud800"]
    with pytest.raises(TypeError):
        sio.encode_event("/", "z", (object(),))


def test_namespace_query_is_stripped() -> None:
    c = make(("/", "/custom"))
    assert c.receive("0/custom?x=1,") == [ConnectRequest("/custom", {})]
