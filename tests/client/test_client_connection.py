"""The client connection against python-socketio's server: what the conformance suite and the
Locust user rely on (connect with auth, refusals, acks, events, heartbeats, close detection)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from client_sio_server import echo_server, running_server, silent_server

from taskchat.client import (
    AckTimeout,
    ConnectFailed,
    Connection,
    ConnectionClosed,
    ConnectRefused,
    EventTimeout,
)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with running_server(echo_server) as u:
        yield u


def test_connect_with_auth_returns_sid_and_handshake(url: str) -> None:
    with Connection(url, {"token": "good"}) as conn:
        assert conn.sid and conn.connected
        assert {"sid", "pingInterval", "pingTimeout", "maxPayload"} <= conn.handshake.keys()


def test_refused_connect_exposes_the_connect_error_payload(url: str) -> None:
    conn = Connection(url, {"token": "bad"})
    with pytest.raises(ConnectRefused) as info:
        conn.connect()
    assert info.value.payload == {"message": "bad token", "data": {"code": "AUTH_INVALID"}}
    assert info.value.code == "AUTH_INVALID"
    assert conn.closed.is_set()


def test_nothing_listening_is_connect_failed() -> None:
    with pytest.raises(ConnectFailed):
        Connection("http://127.0.0.1:9", {"token": "good"}, timeout=1).connect()


def test_call_returns_the_ack_args_and_acks_are_counted_once(url: str) -> None:
    with Connection(url, {"token": "good"}) as conn:
        assert conn.call("echo", {"taskId": "t1"}, "x") == [{"taskId": "t1"}, "x"]
        assert conn.call("echo", "é✓") == ["é✓"]
        assert conn.ack_counts == {0: 1, 1: 1}
        assert conn.unexpected_acks == 0


def test_emit_with_ack_calls_back_without_blocking(url: str) -> None:
    got: list[list] = []
    with Connection(url, {"token": "good"}) as conn:
        ack_id = conn.emit_with_ack("echo", 42, callback=got.append)
        conn.call("echo", "after")  # acks come in order on one socket
        assert got == [[42]] and ack_id == 0


def test_call_without_an_ack_times_out(url: str) -> None:
    with Connection(url, {"token": "good"}) as conn, pytest.raises(AckTimeout):
        conn.call("nobody_listens", "x", timeout=0.3)  # no handler: python-socketio never acks


def test_wait_for_returns_each_event_once_in_order(url: str) -> None:
    seen: list[str] = []
    conn = Connection(url, {"token": "good"}, on_event=lambda e, a, t: seen.append(e))
    with conn:
        conn.emit("shout", "news", {"n": 1})
        conn.emit("shout", "news", {"n": 2})
        conn.emit("shout", "other", {"n": 3})
        assert conn.wait_for("news") == [{"n": 1}]
        assert conn.wait_for("other") == [{"n": 3}]
        assert conn.wait_for("news") == [{"n": 2}]
        with pytest.raises(EventTimeout):
            conn.wait_for("news", timeout=0.2)
        conn.emit("shout", "news", {"n": 4})
        assert conn.wait_for("news", lambda args: args[0]["n"] == 4) == [{"n": 4}]
        assert [r.event for r in conn.received] == ["news", "news", "other", "news"]
        assert seen == ["news", "news", "other", "news"]


def test_wait_for_sees_events_arriving_while_waiting_without_a_log(url: str) -> None:
    with Connection(url, {"token": "good"}, keep_received=False) as conn:
        timer = threading.Timer(0.1, conn.emit, ("shout", "late", {"n": 1}))
        timer.start()
        assert conn.wait_for("late") == [{"n": 1}]
        timer.join()
        assert conn.received == []


def test_binary_event_reaches_the_server_and_back(url: str) -> None:
    with Connection(url, {"token": "good"}) as conn:
        assert conn.call("echo", {"blob": b"\x00\xff"}) == [{"blob": b"\x00\xff"}]


def test_heartbeat_is_answered_so_the_connection_outlives_the_ping_timeout() -> None:
    # python-engineio rounds pingInterval down to whole seconds, so 1 s is its smallest
    with (
        running_server(echo_server, ping_interval=1, ping_timeout=0.3) as fast_url,
        Connection(fast_url, {"token": "good"}, record=True) as conn,
    ):
        assert (conn.handshake["pingInterval"], conn.handshake["pingTimeout"]) == (1000, 300)
        time.sleep(2.4)  # two pings, and twice pingInterval + pingTimeout
        assert conn.connected
        assert conn.call("echo", 1) == [1]
        pongs = [f for f in conn.transcript if f.direction == "sent" and f.data == "3"]
        assert len(pongs) >= 2


def test_server_disconnect_is_detected(url: str) -> None:
    with Connection(url, {"token": "good"}) as conn:
        conn.emit("bye")
        assert conn.wait_closed(3)
        assert conn.close_reason == "server disconnect"
        with pytest.raises(ConnectionClosed):
            conn.wait_for("anything", timeout=5)


def test_server_going_away_is_detected() -> None:
    with running_server(echo_server) as short_lived:
        conn = Connection(short_lived, {"token": "good"})
        conn.connect()
    assert conn.wait_closed(3)
    assert conn.close_reason not in (None, "client")


def test_close_is_clean_and_idempotent(url: str) -> None:
    conn = Connection(url, {"token": "good"})
    conn.connect()
    conn.close()
    conn.close()
    assert conn.closed.is_set() and conn.close_reason == "client"


def test_transcript_records_every_frame_both_ways(url: str) -> None:
    with Connection(url, {"token": "good"}, record=True) as conn:
        conn.call("echo", "hi")
    frames = [(f.direction, f.data[:2]) for f in conn.transcript]
    assert frames[0] == ("received", "0{")  # Engine.IO OPEN
    assert frames[1] == ("sent", "40")  # Socket.IO CONNECT with auth
    assert ("received", "40") in frames  # CONNECT accepted
    assert ("sent", "42") in frames and ("received", "43") in frames
    assert all(a.t <= b.t for a, b in zip(conn.transcript, conn.transcript[1:], strict=False))


def test_on_close_reports_the_reason_once(url: str) -> None:
    reasons: list[str] = []
    conn = Connection(url, {"token": "good"}, on_close=reasons.append)
    conn.connect()
    conn.emit("bye")
    assert conn.wait_closed(3)
    conn.close()
    assert reasons == ["server disconnect"]


@pytest.mark.parametrize("size", [10, 300, 70_000])
def test_frames_of_every_length_encoding_arrive_whole(url: str, size: int) -> None:
    # 7-bit, 16-bit and 64-bit WebSocket payload lengths
    with Connection(url, {"token": "good"}) as conn:
        assert conn.call("echo", "é" * size) == ["é" * size]


def test_a_server_that_goes_silent_is_given_up_after_ping_interval_plus_timeout() -> None:
    """No ping within pingInterval + pingTimeout: the client must consider the server gone."""
    with silent_server(ping_interval_ms=200, ping_timeout_ms=200) as silent_url:
        conn = Connection(silent_url, {"token": "good"})
        conn.connect()
        assert conn.wait_closed(3)
        assert conn.close_reason == "ping timeout"
