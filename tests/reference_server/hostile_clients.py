"""Hostile clients for the end-to-end test: each attacks one layer over a real socket until its
deadline, from a seeded ``random.Random``, and returns how many hostile inputs it sent.

Layers: Engine.IO and Socket.IO frames (random and mutated), WebSocket frames built by hand
(bad opcodes, reserved bits, unmasked, length lies, invalid UTF-8), HTTP long-polling abuse
(bad sids, concurrent polls, garbage bodies, broken requests), slowloris, floods of events and
of handshakes, and stalled readers that join a busy room and never read.
"""

from __future__ import annotations

import base64
import contextlib
import os
import random
import socket
import struct
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import websocket

Attack = Callable[[str, random.Random, float, Callable[[], str], str], int]

VALID_FRAMES = [
    "40", "41", "2", "3", "5", "6", "1", "2probe", "4hello",
    '42["send_message",{"taskId":"T","message":"hi"}]',
    '421["send_message",{"taskId":"T","message":"hi"}]',
    '42["join_task","T"]', '431["ack"]',
    '451-["send_message",{"_placeholder":true,"num":0}]',
    '42["edit_message",{"taskId":"T","messageId":"x","newMessage":"y"}]',
    '42["typing_start",{"taskId":"T"}]', "bAQIDBA==",
]
HOSTILE_JSON = [
    '"\\ud800"', '"\\udfff\\ud800"', "1e999", "-0", "18446744073709551616", '"' + "x" * 6000 + '"',
    "[" * 3000 + "]" * 3000, '{"a":1,"a":2}', "NaN", "null", "{}", "[]", '"\\u0000"',
    '{"__proto__":{"admin":true}}', '{"taskId":"T","message":"\\ud83d"}',
]


def _connect(token: str) -> str:
    return f'40{{"token":"{token}"}}'


def _event(name: str, body: str, ack: int | None = None) -> str:
    """A Socket.IO EVENT frame with ``body`` spliced in as raw JSON text (hostile or not)."""
    return f'42{"" if ack is None else ack}["{name}",{body}]'


def _mutate(rng: random.Random, text: str) -> str:
    s = list(text)
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(["insert", "delete", "replace", "truncate", "dup", "json"])
        i = rng.randint(0, len(s))
        if op == "insert":
            s.insert(i, rng.choice('0123456789-/,[]{}":\x1e\u0663\ud800 '))
        elif op == "delete" and s:
            del s[min(i, len(s) - 1)]
        elif op == "replace" and s:
            s[min(i, len(s) - 1)] = chr(rng.randint(0, 0x2FF))
        elif op == "truncate":
            s = s[:i]
        elif op == "dup":
            s = s + s[i:]
        else:
            s = list(_event(rng.choice(["send_message", "join_task", "x" * 200]),
                            rng.choice(HOSTILE_JSON)))
    return "".join(s)


def _ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"


def _open_ws(url: str) -> websocket.WebSocket | None:
    ws = websocket.WebSocket(skip_utf8_validation=True)
    try:
        ws.connect(_ws_url(url), timeout=1)
        ws.settimeout(0.002)
        return ws
    except (OSError, websocket.WebSocketException):
        return None


def _drain(ws: websocket.WebSocket) -> None:
    with contextlib.suppress(OSError, websocket.WebSocketException):
        while ws.recv():
            pass


def _on_sessions(url: str, deadline: float, hello: Callable[[], list[str]],
                 frames: Callable[[], list[str | bytes]]) -> int:
    """Send ``frames()`` batches on one WebSocket session until the deadline; a new session
    (opened with ``hello()``) whenever the server closed the last one, as it should on a
    malformed packet. Returns the number of frames sent."""
    sent = 0
    ws = None
    while time.monotonic() < deadline:
        if ws is None or not ws.connected:
            ws = _open_ws(url)
            if ws is None:
                time.sleep(0.05)
                continue
            with contextlib.suppress(OSError, websocket.WebSocketException):
                for frame in hello():
                    ws.send(frame)
        try:
            for frame in frames():
                if isinstance(frame, bytes):
                    ws.send_binary(frame)
                else:  # a lone surrogate cannot go into a text frame: it becomes U+FFFD
                    ws.send(frame.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
                sent += 1
                if sent % 8 == 0:
                    _drain(ws)
        except (OSError, websocket.WebSocketException):
            ws = None
            continue
        time.sleep(0.001)
    if ws is not None:
        ws.shutdown()  # no closing handshake: a hostile client just goes
    return sent


def engineio_frames(url: str, rng: random.Random, deadline: float, token: Callable[[], str],
                    task: str) -> int:
    """Random and mutated Engine.IO/Socket.IO frames, text and binary, half of the sessions
    authenticated first."""

    def frames() -> list[str | bytes]:
        frame = _mutate(rng, rng.choice(VALID_FRAMES).replace("T", task))
        if rng.random() < 0.15:
            return [frame.encode("utf-8", "surrogatepass")[: rng.randint(0, 64)]]
        return [frame]

    return _on_sessions(url, deadline, lambda: [_connect(token())] if rng.random() < 0.5 else [],
                        frames)


def socketio_events(url: str, rng: random.Random, deadline: float, token: Callable[[], str],
                    task: str) -> int:
    """An authenticated member that joins the honest room, then sends events whose JSON is
    hostile: lone surrogates, deep nesting, huge numbers, oversize text, bad ack ids and binary
    placeholders that point nowhere."""

    def frames() -> list[str | bytes]:
        event = rng.choice(["send_message", "edit_message", "delete_message", "join_task",
                            "typing_start", "leave_task", "unknown\ud800"])
        value = rng.choice(HOSTILE_JSON)
        return [rng.choice([
            _event(event, value),
            _event(event, f'{{"taskId":"{task}","message":{value}}}', ack=rng.randint(0, 2**40)),
            _event("send_message",
                   f'{{"taskId":"{task}","message":"hi","clientMessageId":{value}}}'),
            f'451-["send_message",{{"_placeholder":true,"num":{rng.randint(-1, 3)}}}]',
            f"43{rng.randint(0, 9)}[{value}]",
        ])]

    return _on_sessions(url, deadline, lambda: _member(token(), task), frames)


def _member(token: str, task: str) -> list[str]:
    return [_connect(token), _event("join_task", f'"{task}"')]


def _handshake(url: str) -> socket.socket | None:
    host, port = urlsplit(url).hostname or "127.0.0.1", urlsplit(url).port or 80
    try:
        s = socket.create_connection((host, port), timeout=0.5)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        s.recv(4096)
        return s
    except OSError:
        return None


def _ws_frame(rng: random.Random) -> bytes:
    kind = rng.randrange(7)
    payload = rng.randbytes(rng.randint(0, 40))
    mask = rng.randbytes(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    if kind == 0:  # reserved opcode or reserved bits
        return bytes([0x80 | rng.choice([3, 4, 5, 6, 7, 0xB, 0xC, 0xF]) | rng.choice([0, 0x40]),
                      0x80 | len(payload)]) + mask + masked
    if kind == 1:  # unmasked client frame
        return bytes([0x81, len(payload)]) + payload
    if kind == 2:  # a length that lies (2^63 - 1, or 64 KiB with nothing behind it)
        return bytes([0x82, 0xFF]) + struct.pack(">Q", 2**63 - 1) + mask
    if kind == 3:  # a fragmented control frame / a ping over 125 bytes
        return bytes([0x09, 0x80 | 126]) + struct.pack(">H", 200) + mask + rng.randbytes(200)
    if kind == 4:  # invalid UTF-8 in a text frame
        bad = b"4\xff\xfe\xed\xa0\x80"
        return bytes([0x81, 0x80 | len(bad)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(bad))
    if kind == 5:  # continuation with nothing to continue, then close with a bad code
        return bytes([0x80, 0x80 | len(payload)]) + mask + masked + bytes([0x88, 0x82]) + mask + \
            bytes(b ^ mask[i % 4] for i, b in enumerate(struct.pack(">H", 999)))
    return rng.randbytes(rng.randint(1, 64))  # noise


def websocket_frames(url: str, rng: random.Random, deadline: float, _token: Callable[[], str],
                     _task: str) -> int:
    """Malformed WebSocket frames after a hand-made upgrade, one connection per few frames."""
    sent = 0
    while time.monotonic() < deadline:
        s = _handshake(url)
        if s is None:
            time.sleep(0.05)
            continue
        with s:
            for _ in range(rng.randint(1, 3)):
                try:
                    s.sendall(_ws_frame(rng))
                    sent += 1
                except OSError:
                    break
        time.sleep(0.005)
    return sent


def _raw_http(url: str, request: bytes, read: bool = True) -> None:
    host, port = urlsplit(url).hostname or "127.0.0.1", urlsplit(url).port or 80
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5) as s:
        s.sendall(request)
        if read:
            with contextlib.suppress(OSError):
                s.recv(65536)


def polling_abuse(url: str, rng: random.Random, deadline: float, _token: Callable[[], str],
                  _task: str) -> int:
    """HTTP long-polling abuse: unknown and stolen sids, garbage bodies, a Content-Length that
    lies, broken request lines, huge headers, methods the endpoint does not take."""
    sent = 0
    path = "/socket.io/?EIO=4&transport=polling"
    while time.monotonic() < deadline:
        sid = rng.choice(["x", "A" * 300, "\u0663", "%00", "../../etc"])
        body = rng.choice([b"", b"\x1e\x1e\x1e", rng.randbytes(64), b"4" + b"x" * 5000,
                           b'42["send_message",{"taskId":"T","message":"\\ud800"}]', b"b@@@"])
        request = rng.choice([
            b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"POST " + path.encode() + b"&sid=" + sid.encode("utf-8", "replace") +
            b" HTTP/1.1\r\nHost: x\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body,
            b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\nabc",
            b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"GARBAGE / HTTP/9.9\r\n\r\n",
            b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
            b"GET " + path.encode() + b" HTTP/1.1\r\nX: " + b"y" * 70000 + b"\r\n\r\n",
            b"DELETE " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /socket.io/?EIO=3&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS hello on a plain port
        ])
        _raw_http(url, request, read=rng.random() < 0.7)
        sent += 1
        if rng.random() < 0.2:  # two concurrent long-polls on one real session
            handshake = _open_session(url)
            if handshake:
                get = (f"GET {path}&sid={handshake} HTTP/1.1\r\nHost: x\r\n\r\n").encode()
                _raw_http(url, get, read=False)
                _raw_http(url, get, read=True)
                sent += 2
        time.sleep(0.003)
    return sent


def _open_session(url: str) -> str | None:
    host, port = urlsplit(url).hostname or "127.0.0.1", urlsplit(url).port or 80
    try:
        with socket.create_connection((host, port), timeout=0.5) as s:
            s.sendall(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
            data = s.recv(65536).decode("latin-1")
    except OSError:
        return None
    start = data.find('"sid":"')
    return data[start + 7:data.find('"', start + 7)] if start >= 0 else None


def slowloris(url: str, rng: random.Random, deadline: float, _token: Callable[[], str],
              _task: str) -> int:
    """Connections that send a request one byte at a time and never finish it."""
    host, port = urlsplit(url).hostname or "127.0.0.1", urlsplit(url).port or 80
    socks: list[socket.socket] = []
    sent = 0
    request = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nX-a: "
    try:
        while time.monotonic() < deadline:
            if len(socks) < 30:
                with contextlib.suppress(OSError):
                    socks.append(socket.create_connection((host, port), timeout=1))
            for s in list(socks):
                try:
                    s.send(request[rng.randrange(len(request)):][:1])
                    sent += 1
                except OSError:
                    socks.remove(s)
            time.sleep(0.05)
    finally:
        for s in socks:
            s.close()
    return sent


def floods(url: str, rng: random.Random, deadline: float, token: Callable[[], str],
           task: str) -> int:
    """A member sending valid events as fast as the socket takes them (the rate limit refuses
    most), and a storm of handshakes that are opened and dropped."""
    dropped = 0

    def frames() -> list[str | bytes]:
        nonlocal dropped
        for _ in range(5):  # handshakes opened and dropped
            other = _open_ws(url)
            if other is not None:
                other.shutdown()
                dropped += 1
        return [rng.choice([
            _event("send_message", f'{{"taskId":"{task}","message":"{"f" * 4000}"}}', ack=i),
            _event("typing_start", f'{{"taskId":"{task}"}}'),
            _event("typing_stop", f'{{"taskId":"{task}"}}'),
        ]) for i in range(50)]

    return _on_sessions(url, deadline, lambda: _member(token(), task), frames) + dropped


def stalled_readers(url: str, _rng: random.Random, deadline: float, token: Callable[[], str],
                    task: str) -> int:
    """Members who join the busy room and then never read a byte (nor answer a ping)."""
    socks: list[websocket.WebSocket] = []
    for _ in range(4):
        ws = _open_ws(url)
        if ws is None:
            continue
        with contextlib.suppress(OSError, websocket.WebSocketException):
            for frame in _member(token(), task):
                ws.send(frame)
            ws.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # type: ignore[union-attr]
            socks.append(ws)
    while time.monotonic() < deadline:
        time.sleep(0.05)
    for ws in socks:
        ws.shutdown()  # no closing handshake: a hostile client just goes
    return len(socks)


ATTACKS: dict[str, Attack] = {
    "engineio_frames": engineio_frames,
    "socketio_events": socketio_events,
    "websocket_frames": websocket_frames,
    "polling_abuse": polling_abuse,
    "slowloris": slowloris,
    "floods": floods,
    "stalled_readers": stalled_readers,
}
