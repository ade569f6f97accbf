"""A tiny python-socketio server in a thread, for testing the client path (test code only).

python-socketio is the other side on purpose: the client's codec is its own, so a round trip
through a different implementation is what shows the codec is right.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import socketio
import uvicorn

Setup = Callable[[socketio.AsyncServer], None]


async def read_body(receive: Any) -> bytes:
    """The whole body of an ASGI HTTP request."""
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            return body


@contextmanager
def serve_asgi(app: Any, **config: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1:<ephemeral> in a thread; yields its URL.

    ``config`` goes to ``uvicorn.Config`` (e.g. ``http=`` a protocol class)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings: dict[str, Any] = {"ws": "wsproto", "log_level": "warning", "lifespan": "off",
                                "timeout_graceful_shutdown": 1, **config}
    server = uvicorn.Server(uvicorn.Config(app, **settings))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


@contextmanager
def running_server(
    setup: Setup, *, ping_interval: float = 25, ping_timeout: float = 20
) -> Iterator[str]:
    """Run an AsyncServer configured by ``setup`` on 127.0.0.1:<ephemeral>; yields its URL."""
    sio = socketio.AsyncServer(
        async_mode="asgi", ping_interval=ping_interval, ping_timeout=ping_timeout
    )
    setup(sio)
    with serve_asgi(socketio.ASGIApp(sio)) as url:
        yield url


def echo_server(sio: socketio.AsyncServer) -> None:
    """Accepts token "good", refuses the rest; echoes; emits on request; disconnects on "bye"."""

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        if not isinstance(auth, dict) or auth.get("token") != "good":
            raise socketio.exceptions.ConnectionRefusedError("bad token", {"code": "AUTH_INVALID"})

    @sio.on("echo")
    async def echo(sid: str, *args: Any) -> Any:
        return args

    @sio.on("shout")
    async def shout(sid: str, name: str, payload: Any) -> None:
        await sio.emit(name, payload, to=sid)

    @sio.on("bye")
    async def bye(sid: str) -> None:
        await sio.disconnect(sid)


@contextmanager
def silent_server(*, ping_interval_ms: int, ping_timeout_ms: int) -> Iterator[str]:
    """Accepts one WebSocket, opens the Engine.IO session and the Socket.IO connection, then
    says nothing more - never pings - and keeps the socket open: a server that hung."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)
    done = threading.Event()
    held: list[socket.socket] = []

    def frame(text: str) -> bytes:
        data = text.encode()
        assert len(data) < 126
        return bytes([0x81, len(data)]) + data

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        held.append(conn)
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        accept = base64.b64encode(
            hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
        )
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        opened = {
            "sid": "silent",
            "upgrades": [],
            "pingInterval": ping_interval_ms,
            "pingTimeout": ping_timeout_ms,
            "maxPayload": 1000000,
        }
        conn.sendall(frame("0" + json.dumps(opened)))
        conn.recv(4096)  # the client's CONNECT
        conn.sendall(frame('40{"sid":"s1"}'))
        done.wait(10)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        thread.join(5)
        for conn in held:
            conn.close()
        listener.close()
