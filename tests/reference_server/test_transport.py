"""The trio transport over real sockets on 127.0.0.1, with python-socketio's client and raw
WebSockets: websocket, polling, polling -> upgrade, ordering, limits, slow consumers, shutdown."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
import socketio
import trio
import websocket
from taskchat.reference_server.socketio_server import Ack, SocketRef, Sockets

pytestmark = pytest.mark.timeout(60)


class EchoHandler:
    """A tiny Handler: echoes, acks, broadcasts; records what happened."""

    def __init__(self) -> None:
        self.server: Sockets | None = None
        self.connects: list[tuple[SocketRef, object]] = []
        self.disconnects: list[tuple[str, str]] = []
        self.events: list[tuple[str, str, list[object]]] = []
        self.lock = threading.Lock()

    async def on_connect(self, sock: SocketRef, auth: object) -> dict | None:
        if isinstance(auth, dict) and auth.get("refuse"):
            return {"message": "refused", "data": {"code": "AUTH_INVALID"}}
        with self.lock:
            self.connects.append((sock, auth))
        return None

    def on_event(self, sock: SocketRef, event: str, args: list[object], ack: Ack | None) -> None:
        assert self.server is not None
        with self.lock:
            self.events.append((sock.sid, event, args))
        if event == "echo":
            self.server.emit([sock.sid], "echo", *args)
        elif event == "ack" and ack is not None:
            ack(*args)
        elif event == "emit_then_ack" and ack is not None:
            self.server.emit([sock.sid], "first", *args)
            ack("second")
            with pytest.raises(RuntimeError):
                ack("third")
        elif event == "sleep":  # slow work: in a task of its own, as the Handler says
            trio.lowlevel.spawn_system_task(self._sleep, float(args[0]), ack)  # type: ignore[arg-type]

    @staticmethod
    async def _sleep(seconds: float, ack: Ack | None) -> None:
        await trio.sleep(seconds)
        if ack is not None:
            ack("slept")

    def backlogged(self, sock: SocketRef) -> bool:
        return False

    async def wait_capacity(self, sock: SocketRef) -> None:
        pass

    async def on_disconnect(self, sock: SocketRef, reason: str) -> None:
        with self.lock:
            self.disconnects.append((sock.sid, reason))

    def sids(self) -> list[str]:
        with self.lock:
            return [ref.sid for ref, _ in self.connects]


def wait_until(cond: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def client(srv: Any, transports: list[str] | None, **kw: Any) -> socketio.Client:
    c = socketio.Client(reconnection=False)
    received: list[tuple[str, tuple]] = []
    c.received = received  # type: ignore[attr-defined]
    c.on("*", lambda event, *args: received.append((event, args)))
    c.connect(srv.url, transports=transports, wait_timeout=5, **kw)
    return c


def raw_ws(srv: Any, **kw: Any) -> websocket.WebSocket:
    ws = websocket.create_connection(srv.ws_url, timeout=5, **kw)
    opened = ws.recv()
    assert opened.startswith("0{")
    return ws


def raw_connect(srv: Any, **kw: Any) -> tuple[websocket.WebSocket, str]:
    ws = raw_ws(srv, **kw)
    ws.send("40")
    reply = ws.recv()
    assert reply.startswith("40{")
    return ws, json.loads(reply[2:])["sid"]


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
def test_roundtrip_with_python_socketio_client(wire_server: Any, transports: list[str]) -> None:
    h = EchoHandler()
    srv = wire_server(h)
    c = client(srv, transports, auth={"token": "t"})
    try:
        assert c.transport() == transports[0]
        assert c.call("ack", (1, "two", {"3": [True]}), timeout=5) == (1, "two", {"3": [True]})
        c.emit("echo", ("hello", b"\x00\x01binary"))
        wait_until(lambda: c.received, what="echo")
        assert c.received == [("echo", ("hello", b"\x00\x01binary"))]
        ref, auth = h.connects[0]
        assert auth == {"token": "t"} and ref.transport == transports[0] and ref.namespace == "/"
        assert ref.remote.startswith("127.0.0.1:")
        assert srv.sockets.connected == 1
    finally:
        c.disconnect()
    wait_until(lambda: h.disconnects, what="on_disconnect")
    # python-socketio's client closes its WebSocket without waiting for its "41" to go out
    assert h.disconnects in (
        [(ref.sid, "client namespace disconnect")],
        [(ref.sid, "transport close")],
    )
    wait_until(lambda: srv.sockets.connected == 0, what="connected == 0")


def test_client_namespace_disconnect(wire_server: Any) -> None:
    h = EchoHandler()
    srv = wire_server(h)
    ws, sid = raw_connect(srv)
    ws.send("41")
    wait_until(lambda: h.disconnects, what="on_disconnect")
    assert h.disconnects == [(sid, "client namespace disconnect")]
    ws.send("40")  # the Engine.IO session is still open: connect again
    assert ws.recv().startswith("40{")
    ws.close()
    wait_until(lambda: len(h.disconnects) == 2, what="second on_disconnect")
    assert h.disconnects[1][1] == "transport close"


def test_polling_upgrades_to_websocket(wire_server: Any) -> None:
    h = EchoHandler()
    srv = wire_server(h)
    c = client(srv, None)  # polling first, then the upgrade
    try:
        wait_until(lambda: c.transport() == "websocket", what="upgrade")
        for i in range(20):
            assert c.call("ack", i, timeout=5) == i
        c.emit("echo", "after upgrade")
        wait_until(lambda: c.received, what="echo")
    finally:
        c.disconnect()
    wait_until(lambda: h.disconnects, what="on_disconnect")


def test_raw_polling_connect_then_upgrade(wire_server: Any) -> None:
    h = EchoHandler()
    srv = wire_server(h)
    base = f"{srv.url}/socket.io/?EIO=4&transport=polling"
    with requests.Session() as http:
        hs = json.loads(http.get(base, timeout=5).text[1:])
        assert hs["upgrades"] == ["websocket"]
        url = f"{base}&sid={hs['sid']}"
        assert http.post(url, data=b'40{"token":"p"}', timeout=5).text == "ok"
        reply = http.get(url, timeout=5).text
        assert reply.startswith("40{")
        sid = json.loads(reply[2:])["sid"]
        assert h.connects[0][0].transport == "polling" and h.connects[0][1] == {"token": "p"}
        # a poll is pending while the probe arrives: the probe releases it with a NOOP
        pending: dict[str, str] = {}
        poller = threading.Thread(target=lambda: pending.update(r=http.get(url, timeout=5).text))
        poller.start()
        time.sleep(0.1)
        ws = websocket.create_connection(srv.ws_url + f"&sid={hs['sid']}", timeout=5)
        ws.send("2probe")
        assert ws.recv() == "3probe"
        poller.join(5)
        assert pending["r"] == "6"
        srv.call(srv.sockets.emit, [sid], "queued", 1)  # still polling until "5"
        assert requests.get(url, timeout=5).text == '42["queued",1]'
        srv.call(srv.sockets.emit, [sid], "queued", 2)
        ws.send("5")
        assert ws.recv() == '42["queued",2]'  # what was queued at the switch goes over WebSocket
        assert requests.get(url, timeout=5).status_code == 400
        ws.send('421["ack","over ws"]')
        assert ws.recv() == '431["over ws"]'
        ws.close()
    wait_until(lambda: h.disconnects, what="on_disconnect")
    assert h.disconnects == [(sid, "transport close")]


def test_polling_close_racing_a_get(wire_server: Any) -> None:
    """A GET sent together with the client's CLOSE but arriving second still gets its NOOP
    (once); later requests get 400."""
    srv = wire_server(EchoHandler())
    base = f"{srv.url}/socket.io/?EIO=4&transport=polling"
    sid = json.loads(requests.get(base, timeout=5).text[1:])["sid"]
    assert requests.post(f"{base}&sid={sid}", data=b"1", timeout=5).text == "ok"
    r = requests.get(f"{base}&sid={sid}", timeout=5)
    assert (r.status_code, r.text) == (200, "6")
    assert requests.get(f"{base}&sid={sid}", timeout=5).status_code == 400


def test_refused_connect_gets_connect_error(wire_server: Any) -> None:
    h = EchoHandler()
    srv = wire_server(h)
    c = socketio.Client(reconnection=False)
    errors: list[object] = []
    c.on("connect_error", lambda data: errors.append(data))
    with pytest.raises(socketio.exceptions.ConnectionError):
        c.connect(srv.url, transports=["websocket"], auth={"refuse": True}, wait_timeout=5)
    assert errors == [{"message": "refused", "data": {"code": "AUTH_INVALID"}}]
    assert h.disconnects == []  # never accepted: no on_disconnect


def test_server_disconnect(wire_server: Any) -> None:
    h = EchoHandler()
    srv = wire_server(h)
    c = client(srv, ["websocket"])
    gone = threading.Event()
    c.on("disconnect", lambda *a: gone.set())
    sid = h.sids()[0]
    srv.call(srv.sockets.disconnect, sid)
    assert gone.wait(5)
    wait_until(lambda: h.disconnects, what="on_disconnect")
    assert h.disconnects == [(sid, "server namespace disconnect")]
    srv.call(srv.sockets.emit, [sid], "ignored")  # unknown sids are ignored
    srv.call(srv.sockets.disconnect, sid)


def test_emit_then_ack_order_and_events_in_order(wire_server: Any) -> None:
    h = EchoHandler()
    srv = wire_server(h)
    ws, sid = raw_connect(srv)
    ws.send('421["sleep",0.2]')  # slow work in its own task holds nothing back
    ws.send('427["emit_then_ack",{"n":1}]')
    for i in range(50):
        ws.send(f'42["echo",{i}]')
    assert ws.recv() == '42["first",{"n":1}]'
    assert ws.recv() == '437["second"]'
    assert [ws.recv() for _ in range(50)] == [f'42["echo",{i}]' for i in range(50)]
    assert ws.recv() == '431["slept"]'
    assert [e for s, e, _ in h.events if s == sid][:3] == ["sleep", "emit_then_ack", "echo"]
    ws.close()


def test_a_slow_handler_delays_nobody(wire_server: Any) -> None:
    h = EchoHandler()
    srv = wire_server(h)
    slow, _ = raw_connect(srv)
    fast, _ = raw_connect(srv)
    slow.send('421["sleep",1.5]')
    t0 = time.monotonic()
    slow.send('422["ack","quick too"]')
    fast.send('422["ack","quick"]')
    assert fast.recv() == '432["quick"]'
    assert slow.recv() == '432["quick too"]'
    assert time.monotonic() - t0 < 1.0
    assert slow.recv() == '431["slept"]'
    slow.close()
    fast.close()


def test_slow_consumer_is_dropped_while_others_keep_up(wire_server: Any) -> None:
    h = EchoHandler()
    srv = wire_server(h, send_queue_limit=16, write_timeout=1.0)
    # a raw client with a tiny receive buffer that stops reading after CONNECT
    slow, slow_sid = raw_connect(srv, sockopt=((socket.SOL_SOCKET, socket.SO_RCVBUF, 4096),))
    fast = client(srv, ["websocket"])
    fast_sid = next(s for s in h.sids() if s != slow_sid)
    payload = "x" * 65536
    worst = 0.0
    try:
        for i in range(1, 400):
            t0 = time.monotonic()
            srv.call(srv.sockets.emit, [slow_sid, fast_sid], "big", {"i": i, "p": payload})
            wait_until(lambda i=i: len(fast.received) >= i, timeout=2, what=f"message {i}")
            worst = max(worst, time.monotonic() - t0)
            if any(s == slow_sid for s, _ in h.disconnects):
                break
        else:
            raise AssertionError("the slow consumer was never dropped")
        assert dict(h.disconnects)[slow_sid] == "slow consumer"
        assert worst < 1.0, worst  # the fast client never waited for the slow one
        assert fast.call("ack", "still here", timeout=5) == "still here"
        assert fast_sid not in dict(h.disconnects)
    finally:
        fast.disconnect()
        slow.close()


def test_max_payload(wire_server: Any) -> None:
    h = EchoHandler()
    srv = wire_server(h, max_payload=1000)
    ws, sid = raw_connect(srv)
    ws.send('42["echo","' + "x" * 2000 + '"]')
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        while True:
            ws.recv()
    wait_until(lambda: h.disconnects, what="on_disconnect")
    assert h.disconnects == [(sid, "payload too large")]
    # polling: a POST over max_payload is 413 and closes the session
    base = f"{srv.url}/socket.io/?EIO=4&transport=polling"
    esid = json.loads(requests.get(base, timeout=5).text[1:])["sid"]
    r = requests.post(f"{base}&sid={esid}", data=b"4" + b"x" * 2000, timeout=5)
    assert r.status_code == 413
    assert requests.get(f"{base}&sid={esid}", timeout=5).status_code == 400
    # and an ordinary HTTP request body too
    assert requests.post(f"{srv.url}/api/x", data=b"y" * 2000, timeout=5).status_code == 413


def test_http_handler_gets_other_paths(wire_server: Any) -> None:
    seen: list[tuple[str, str, bytes]] = []

    async def http(method: str, target: str, headers: list, body: bytes) -> tuple:
        seen.append((method, target, body))
        return 200, [(b"content-type", b"application/json")], b'{"status":"ok"}'

    srv = wire_server(EchoHandler(), server_kwargs={}, max_payload=1000)
    assert requests.get(f"{srv.url}/healthz", timeout=5).status_code == 404  # no handler

    srv2 = wire_server(EchoHandler(), server_kwargs={"http": http})
    with requests.Session() as s:  # keep-alive: several requests on one connection
        for _ in range(3):
            r = s.post(f"{srv2.url}/api/tasks?x=1", data=b"body", timeout=5)
            assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert seen[0] == ("POST", "/api/tasks?x=1", b"body")
    r = requests.get(f"{srv2.url}/socket.io/?EIO=3&transport=polling", timeout=5)
    assert r.status_code == 400 and r.json() == {
        "code": 5,
        "message": "Unsupported protocol version",
    }


def test_connect_timeout_and_ping_timeout(wire_server: Any) -> None:
    h = EchoHandler()
    srv = wire_server(h, connect_timeout=0.3, ping_interval=0.2, ping_timeout=0.2)
    quiet = raw_ws(srv)  # never sends CONNECT
    t0 = time.monotonic()
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        while True:
            quiet.recv()  # a ping comes first; then the close
    assert 0.25 < time.monotonic() - t0 < 1.5
    # a connected client that never answers PING is closed after interval + timeout
    mute, sid = raw_connect(srv)
    assert mute.recv() == "2"
    wait_until(lambda: h.disconnects, timeout=3, what="ping timeout")
    assert h.disconnects == [(sid, "ping timeout")]


def test_malformed_packet_closes_only_its_session(wire_server: Any) -> None:
    h = EchoHandler()
    srv = wire_server(h)
    good, _ = raw_connect(srv)
    bad, bad_sid = raw_connect(srv)
    bad.send('452-["x",{"_placeholder":true,"num":5}]')
    wait_until(lambda: h.disconnects, what="on_disconnect")
    assert h.disconnects == [(bad_sid, "parse error")]
    good.send('421["ack","fine"]')
    assert good.recv() == '431["fine"]'
    good.close()


def test_shutdown_closes_every_session_quickly(wire_server: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG, logger="taskchat.reference_server")  # the app logs at info
    h = EchoHandler()
    srv = wire_server(h)
    clients = [client(srv, ["websocket"]), client(srv, ["polling"])]
    raw, _ = raw_connect(srv)
    raw.send('42["sleep",30]')  # a handler busy at shutdown time
    gone = [threading.Event() for _ in clients]
    for c, ev in zip(clients, gone, strict=True):
        c.on("disconnect", lambda *a, ev=ev: ev.set())
    wait_until(lambda: len(h.connects) == 3, what="3 connects")
    took = srv.stop()
    assert took < 2.0, took
    assert sorted(r for _, r in h.disconnects) == ["server shutting down"] * 3
    frame = raw.recv_data_frame(control_frame=True)[1]
    assert frame.opcode == websocket.ABNF.OPCODE_CLOSE
    assert int.from_bytes(frame.data[:2], "big") == 1001
    for ev in gone:
        assert ev.wait(5)
    for c in clients:
        c.disconnect()
    lines = [r.getMessage() for r in caplog.records if r.name == "taskchat.reference_server.socketio"]
    assert sum(m.startswith("connect sid=") for m in lines) == 3
    assert sum(m.startswith("disconnect sid=") and "server shutting down" in m for m in lines) == 3


def _masked(first: int, payload: bytes, mask: bytes = b"\x01\x02\x03\x04") -> bytes:
    """One client frame (RFC 6455 5.2): ``first`` is FIN/RSV/opcode; masked unless ``mask``
    is empty."""
    n = len(payload)
    length = bytes([n | (0x80 if mask else 0)]) if n < 126 else (
        bytes([126 | (0x80 if mask else 0)]) + n.to_bytes(2, "big"))
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if mask else payload
    return bytes([first]) + length + mask + body


def _close_code_after(srv: Any, frame: bytes) -> int:
    """Open a raw WebSocket session, send ``frame``, return the code of the server's close."""
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    try:
        sock.sendall(
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += sock.recv(4096)
        buf = buf.split(b"\r\n\r\n", 1)[1]
        sock.sendall(frame)
        while True:  # server frames: unmasked, payloads < 64 KiB here
            while len(buf) < 4:
                chunk = sock.recv(4096)
                if not chunk:
                    raise AssertionError("closed without a close frame")
                buf += chunk
            opcode, n, head = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if n == 126:
                n, head = int.from_bytes(buf[2:4], "big"), 4
            while len(buf) < head + n:
                buf += sock.recv(4096)
            payload, buf = buf[head : head + n], buf[head + n :]
            if opcode == 0x8:
                return int.from_bytes(payload[:2], "big")
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (_masked(0x81, b"40", mask=b""), 1002),  # an unmasked client frame
        (_masked(0xC1, b"40"), 1002),  # RSV1 without an extension that defines it
        (_masked(0x83, b"40"), 1002),  # a reserved opcode
        (_masked(0x89, b"x" * 126), 1002),  # a ping over 125 bytes
        (_masked(0x09, b"x"), 1002),  # a fragmented ping
        (_masked(0x81, b"4\xff\xfe"), 1007),  # text that is not UTF-8
        (_masked(0x81, b"4" + b"x" * 1500), 1009),  # over max_payload
        (_masked(0x88, (1000).to_bytes(2, "big")), 1000),  # the client's own close
    ],
)
def test_websocket_protocol_violations_close_with_their_code(
    wire_server: Any, frame: bytes, code: int
) -> None:
    srv = wire_server(EchoHandler(), max_payload=1000)
    assert _close_code_after(srv, frame) == code
