"""The client's codec: what it writes is what Socket.IO v5 says, and bad frames are refused."""

from __future__ import annotations

import pytest
import socketio.packet

from taskchat.client import wire
from taskchat.client.wire import WireError


def test_connect_carries_the_auth_object() -> None:
    assert wire.encode_connect({"token": "abc"}) == '40{"token":"abc"}'
    assert wire.encode_connect(None) == "40"
    assert wire.encode_connect({"token": "t"}, "/admin") == '40/admin,{"token":"t"}'


def test_event_with_and_without_ack_id() -> None:
    assert wire.encode_event("join_task", ["t1"]) == '42["join_task","t1"]'
    assert wire.encode_event("join_task", ["t1"], ack_id=7) == '427["join_task","t1"]'
    assert wire.encode_event("x", [], 3, "/n") == '42/n,3["x"]'


@pytest.mark.parametrize(
    ("event", "args", "ack_id", "namespace"),
    [
        ("send_message", [{"taskId": "t", "message": "héllo ✓ \u2028"}], None, "/"),
        ("join_task", ["task-1"], 12, "/"),
        ("typing_start", [{"taskId": "t"}], 0, "/chat"),
        ("multi", [1, None, True, [1.5, {"a": []}]], 99999, "/"),
    ],
)
def test_event_round_trip_through_own_decoder_and_python_socketio(
    event: str, args: list, ack_id: int | None, namespace: str
) -> None:
    frame = wire.encode_event(event, args, ack_id, namespace)
    packet = wire.decode(frame)
    assert (packet.eio_type, packet.sio_type) == (wire.EIO_MESSAGE, wire.SIO_EVENT)
    assert (packet.event, packet.args, packet.ack_id, packet.namespace) == (
        event,
        args,
        ack_id,
        namespace,
    )
    # an independent implementation reads the same thing
    other = socketio.packet.Packet(encoded_packet=frame[1:])
    assert (other.data, other.id, other.namespace or "/") == ([event, *args], ack_id, namespace)


def test_decodes_what_python_socketio_writes() -> None:
    ack = socketio.packet.Packet(socketio.packet.ACK, data=[{"ok": True}], id=4)
    packet = wire.decode("4" + ack.encode())
    assert (packet.sio_type, packet.ack_id, packet.args) == (wire.SIO_ACK, 4, [{"ok": True}])
    refused = socketio.packet.Packet(
        socketio.packet.CONNECT_ERROR, data={"message": "no", "data": {"code": "AUTH_INVALID"}}
    )
    packet = wire.decode("4" + refused.encode())
    assert packet.sio_type == wire.SIO_CONNECT_ERROR
    assert packet.data["data"]["code"] == "AUTH_INVALID"


def test_binary_event_round_trip() -> None:
    parts = wire.encode_binary_event("upload", [{"blob": b"\x00\x01", "name": "a"}, b"zz"], 5)
    header, *buffers = parts
    assert isinstance(header, str) and header.startswith("452-5[")
    assert buffers == [b"\x00\x01", b"zz"]
    packet = wire.decode(header)
    assert (packet.sio_type, packet.attachments, packet.ack_id) == (wire.SIO_BINARY_EVENT, 2, 5)
    data = wire.reconstruct(packet.data, [b for b in buffers if isinstance(b, bytes)])
    assert data == ["upload", {"blob": b"\x00\x01", "name": "a"}, b"zz"]


def test_engine_io_packets() -> None:
    opened = wire.decode('0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000}')
    assert opened.eio_type == wire.EIO_OPEN and opened.data["pingInterval"] == 25000
    assert wire.decode("2").eio_type == wire.EIO_PING
    assert wire.decode("2probe").data == "probe"
    assert wire.decode("1").eio_type == wire.EIO_CLOSE
    assert wire.decode("41").sio_type == wire.SIO_DISCONNECT


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "9",
        "x42[]",
        "4",
        "47[]",
        '42{"not":"a list"}',
        "42[]",
        "42[1]",
        '42["ev"',
        "43[1]",  # ack without id
        '435{"a":1}',  # ack data not a list
        "452[]",  # binary without count-dash
        '45x-["a"]',
        '40"sid"',
        '44"just a string"',
        "0notjson",
        '0{"no":"sid"}',
        "41junk",
        "1extra",
        '405{"sid":"x"}',  # connect with an ack id
    ],
)
def test_malformed_frames_raise_wire_error(frame: str) -> None:
    with pytest.raises(WireError):
        wire.decode(frame)


def test_placeholder_out_of_range_is_an_error() -> None:
    with pytest.raises(WireError):
        wire.reconstruct(["e", {"_placeholder": True, "num": 3}], [b"a"])


def test_refuses_to_encode_what_is_not_json() -> None:
    with pytest.raises(WireError):
        wire.encode_event("e", [object()])
    with pytest.raises(WireError):
        wire.encode_event("e", [], ack_id=-1)
