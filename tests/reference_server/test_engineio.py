"""Sans-IO Engine.IO v4 session: handshake, heartbeat, polling, upgrade, limits, close."""

from __future__ import annotations

import json

import pytest
from taskchat.reference_server import engineio as eio
from taskchat.reference_server.engineio import (
    EngineSession,
    MessageReceived,
    OutPacket,
    SessionClosed,
    Upgraded,
    message_packet,
)

T0 = 1000.0


def session(transport: str = eio.POLLING, **kw: object) -> EngineSession:
    kw.setdefault("ping_interval", 25.0)
    kw.setdefault("ping_timeout", 20.0)
    return EngineSession(transport, T0, **kw)  # type: ignore[arg-type]


def handshake(s: EngineSession) -> dict:
    data = s.open_packet().data
    assert data[:1] == b"0"
    return json.loads(data[1:])


# -- handshake ------------------------------------------------------------------------------


def test_handshake_fields_polling() -> None:
    s = session(ping_interval=0.3, ping_timeout=0.2, max_payload=1_000_000)
    hs = handshake(s)
    assert set(hs) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert hs["sid"] == s.sid and isinstance(hs["sid"], str) and len(hs["sid"]) >= 16
    assert hs["upgrades"] == ["websocket"]
    assert (hs["pingInterval"], hs["pingTimeout"], hs["maxPayload"]) == (300, 200, 1_000_000)


def test_handshake_fields_websocket_offers_no_upgrade() -> None:
    hs = handshake(session(eio.WEBSOCKET))
    assert hs["upgrades"] == []
    assert (hs["pingInterval"], hs["pingTimeout"]) == (25000, 20000)


def test_sids_are_distinct() -> None:
    assert len({session().sid for _ in range(200)}) == 200


# -- heartbeat ------------------------------------------------------------------------------


def test_ping_is_sent_after_ping_interval() -> None:
    s = session(eio.WEBSOCKET)
    assert s.next_deadline() == T0 + 25
    assert s.handle_timers(T0 + 24.9) == []
    assert not s.has_output
    assert s.handle_timers(T0 + 25) == []
    assert [p.data for p in s.take()] == [b"2"]
    assert s.next_deadline() == T0 + 25 + 20  # the pong deadline


def test_pong_resets_the_heartbeat() -> None:
    s = session(eio.WEBSOCKET)
    s.handle_timers(T0 + 25)
    s.take()
    assert s.receive_ws("3", T0 + 26) == []
    assert s.next_deadline() == T0 + 26 + 25  # next ping an interval after the pong
    assert s.handle_timers(T0 + 45.5) == []  # the old pong deadline no longer applies
    assert not s.closed


def test_missing_pong_closes_with_ping_timeout() -> None:
    s = session(eio.WEBSOCKET)
    s.handle_timers(T0 + 25)
    assert s.handle_timers(T0 + 44.99) == []
    assert s.handle_timers(T0 + 45) == [SessionClosed(eio.REASON_PING_TIMEOUT)]
    assert s.closed and s.close_reason == "ping timeout"
    assert s.next_deadline() == float("inf")
    assert s.handle_timers(T0 + 100) == []  # closed once


def test_a_get_racing_the_ping_timeout_loses() -> None:
    s = session(ping_interval=0.3, ping_timeout=0.2)
    s.handle_timers(T0 + 0.3)
    result, events = s.poll_begin(T0 + 0.51)  # the timer task has not run yet
    assert result == eio.POLL_ERROR
    assert events == [SessionClosed(eio.REASON_PING_TIMEOUT)]


def test_client_ping_is_a_protocol_error() -> None:
    s = session(eio.WEBSOCKET)
    assert s.receive_ws("2", T0) == [SessionClosed(eio.REASON_PARSE_ERROR)]


# -- messages -------------------------------------------------------------------------------


def test_websocket_text_and_binary_messages() -> None:
    s = session(eio.WEBSOCKET)
    assert s.receive_ws("4hello", T0) == [MessageReceived("hello")]
    assert s.receive_ws('4{"a": 1}', T0) == [MessageReceived('{"a": 1}')]  # kept as sent
    assert s.receive_ws("4true", T0) == [MessageReceived("true")]
    assert s.receive_ws("4", T0) == [MessageReceived("")]
    assert s.receive_ws(b"\x01\x02", T0) == [MessageReceived(b"\x01\x02")]
    assert s.receive_ws("bAQID", T0) == [MessageReceived(b"\x01\x02\x03")]
    assert s.receive_ws("6", T0) == []  # noop ignored
    assert not s.closed


@pytest.mark.parametrize("bad", ["", "abc", "9", "7x", "\u0663hello", "b=", " 4x", "\x1e"])
def test_malformed_packet_closes_the_session(bad: str) -> None:
    s = session(eio.WEBSOCKET)
    assert s.receive_ws(bad, T0) == [SessionClosed(eio.REASON_PARSE_ERROR)]
    assert s.closed
    assert s.receive_ws("4ok", T0) == []  # nothing after the close


def test_client_close_packet() -> None:
    s = session(eio.WEBSOCKET)
    assert s.receive_ws("1", T0) == [SessionClosed(eio.REASON_TRANSPORT_CLOSE)]


def test_message_packet_encoding() -> None:
    assert message_packet("héllo").data == "4héllo".encode()
    b = message_packet(b"\x00\xff")
    assert b.binary and b.data == b"\x00\xff" and b.polling() == b"bAP8="


# -- polling --------------------------------------------------------------------------------


def test_polling_post_batch_and_get_batch() -> None:
    s = session()
    status, events = s.receive_post(b"4test1\x1e4test2\x1ebAQIDBA==", T0)
    assert status == 200
    assert events == [
        MessageReceived("test1"),
        MessageReceived("test2"),
        MessageReceived(b"\x01\x02\x03\x04"),
    ]
    assert s.poll_begin(T0) == (eio.POLL_OK, [])
    assert s.poll_take(T0) is None  # nothing queued: the GET waits
    s.send(message_packet("a"))
    s.send(message_packet(b"\x01\x02\x03\x04"))
    s.send(message_packet("b"))
    assert s.poll_take(T0) == b"4a\x1ebAQIDBA==\x1e4b"
    s.poll_end()
    assert s.queue == type(s.queue)()


def test_polling_malformed_post_closes_all_or_nothing() -> None:
    s = session()
    status, events = s.receive_post(b"4fine\x1eabc", T0)
    assert status == 400
    assert events == [SessionClosed(eio.REASON_PARSE_ERROR)]  # "fine" is not delivered
    assert s.poll_begin(T0)[0] == eio.POLL_ERROR


def test_polling_post_not_utf8_closes() -> None:
    s = session()
    assert s.receive_post(b"4\xff\xfe", T0) == (400, [SessionClosed(eio.REASON_PARSE_ERROR)])


def test_duplicate_get_closes_and_first_gets_close_packet() -> None:
    s = session()
    assert s.poll_begin(T0)[0] == eio.POLL_OK
    result, events = s.poll_begin(T0)
    assert result == eio.POLL_ERROR and events == [SessionClosed(eio.REASON_TRANSPORT_ERROR)]
    assert s.poll_take(T0) == b"1"


def test_client_close_post_releases_pending_get_with_noop() -> None:
    s = session()
    s.poll_begin(T0)
    assert s.receive_post(b"1", T0) == (200, [SessionClosed(eio.REASON_TRANSPORT_CLOSE)])
    assert s.poll_take(T0) == b"6"


def test_polling_ping_goes_out_on_the_get() -> None:
    s = session(ping_interval=0.3, ping_timeout=0.2)
    s.poll_begin(T0)
    assert s.poll_take(T0) is None
    s.handle_timers(T0 + 0.3)
    assert s.poll_take(T0) == b"2"
    s.poll_end()
    assert s.receive_post(b"3", T0 + 0.31) == (200, [])
    assert s.next_deadline() == pytest.approx(T0 + 0.61)


def test_post_on_websocket_session_is_refused() -> None:
    s = session(eio.WEBSOCKET)
    assert s.receive_post(b"4x", T0) == (400, [])
    assert not s.closed


# -- limits ---------------------------------------------------------------------------------


def test_max_payload_websocket_message_closes() -> None:
    s = session(eio.WEBSOCKET, max_payload=100)
    assert s.receive_ws("4" + "x" * 99, T0) == [MessageReceived("x" * 99)]
    assert s.receive_ws("4" + "x" * 100, T0) == [SessionClosed(eio.REASON_PAYLOAD_TOO_LARGE)]


def test_max_payload_polling_post_is_413_and_closes() -> None:
    s = session(max_payload=100)
    status, events = s.receive_post(b"4" + b"x" * 100, T0)
    assert status == 413 and events == [SessionClosed(eio.REASON_PAYLOAD_TOO_LARGE)]


def test_queue_over_limit_closes_as_slow_consumer() -> None:
    s = session(eio.WEBSOCKET, queue_limit=3)
    p = OutPacket(b"4x")
    assert s.send_many([p, p, p])
    assert not s.send(p)
    assert s.closed and s.close_reason == eio.REASON_SLOW_CONSUMER
    assert not s.queue  # dropped


# -- close ----------------------------------------------------------------------------------


def test_server_close_flushes_then_closes_websocket() -> None:
    s = session(eio.WEBSOCKET)
    s.send(message_packet("last"))
    assert s.close("server namespace disconnect", T0) == []
    assert s.state == eio.STATE_CLOSING
    assert not s.send(message_packet("too late"))
    assert [p.data for p in s.take()] == [b"4last"]
    assert s.take() == []
    assert s.closed and s.close_reason == "server namespace disconnect"


def test_server_close_flushes_then_closes_polling() -> None:
    s = session()
    s.send(message_packet("last"))
    s.close("bye", T0)
    s.poll_begin(T0)
    assert s.poll_take(T0) == b"4last\x1e1"
    assert s.closed


def test_server_close_grace_expires() -> None:
    s = session()
    s.send(message_packet("never fetched"))
    s.close("bye", T0, grace=2.0)
    assert s.next_deadline() == T0 + 2
    assert s.handle_timers(T0 + 2) == [SessionClosed("bye")]


def test_server_close_without_queue_is_immediate() -> None:
    s = session(eio.WEBSOCKET)
    assert s.close("bye", T0) == [SessionClosed("bye")]


# -- upgrade --------------------------------------------------------------------------------


def test_upgrade_sequence_with_noop_releasing_the_pending_get() -> None:
    s = session()
    assert s.poll_begin(T0)[0] == eio.POLL_OK
    assert s.poll_take(T0) is None
    assert s.attach_probe()
    assert not s.attach_probe()  # one probe at a time
    assert s.poll_take(T0) is None  # not probed yet: keeps waiting
    assert s.receive_probe("2probe", T0) == (eio.PROBE_REPLY_SENT, [])
    assert eio.PROBE_REPLY.data == b"3probe"
    assert s.poll_take(T0) is None  # a NOOP a little later: the "5" may be on its way
    assert s.poll_deadline() == T0 + eio.NOOP_DELAY
    assert s.poll_take(T0 + eio.NOOP_DELAY) == b"6"  # the noop ends the client's current poll
    s.poll_end()
    s.send(message_packet("during upgrade"))  # still polling until "5"
    assert s.poll_begin(T0)[0] == eio.POLL_OK
    assert s.poll_take(T0) == b"4during upgrade"
    s.poll_end()
    s.send(message_packet("after"))
    assert s.receive_probe("5", T0) == (eio.PROBE_UPGRADED, [Upgraded()])
    assert s.transport == eio.WEBSOCKET
    assert s.poll_begin(T0)[0] == eio.POLL_ERROR  # HTTP requests after the upgrade: 400
    assert s.receive_post(b"4x", T0)[0] == 400
    assert [p.data for p in s.take()] == [b"4after"]  # the queue now goes over WebSocket
    assert not s.attach_probe()  # a second WebSocket with the same sid is refused
    assert s.receive_ws("4hi", T0) == [MessageReceived("hi")]


def test_get_pending_when_the_upgrade_completes_is_refused() -> None:
    s = session()
    s.poll_begin(T0)  # e.g. a GET that raced the client's "5"
    s.attach_probe()
    s.receive_probe("2probe", T0)
    assert s.poll_take(T0 + 0.01) is None
    s.receive_probe("5", T0 + 0.02)
    s.send(message_packet("x"))
    assert s.poll_take(T0 + 0.02) == eio.POLL_GONE  # 400, as for any poll after the upgrade
    assert [p.data for p in s.take()] == [b"4x"]


def test_bad_probe_message_aborts_only_the_probe() -> None:
    s = session()
    s.attach_probe()
    assert s.receive_probe("4hello", T0) == (eio.PROBE_ABORT, [])
    assert not s.closed and s.transport == eio.POLLING
    assert s.attach_probe()  # may try again


def test_websocket_session_refuses_probe() -> None:
    assert not session(eio.WEBSOCKET).attach_probe()
