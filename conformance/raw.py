"""Engine.IO at the frame level, for the transport checks a client library hides.

Polling goes through ``requests`` (record-separator ``\\x1e`` batches), WebSocket through
websocket-client. Every frame is recorded in the check's context for the report. A reset, a
timeout or an answer that does not parse is recorded as a frame too and becomes a finding of
the requirement the object was opened for (``req``), never an exception out of the check.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import requests
import websocket
from taskchat.conformance.context import Ctx, short

SEP = "\x1e"


def _record(ctx: Ctx, label: str, direction: str, data: str | bytes) -> None:
    text = data if isinstance(data, str) else f"<{len(data)} bytes>"
    ctx.raw_frames.append({"socket": label, "direction": direction,
                           "t": round(time.monotonic() - ctx.t0, 4), "data": short(text)})


def eio_url(ctx: Ctx, transport: str, sid: str | None = None) -> str:
    base = ctx.target.url
    if transport == "websocket":
        base = "ws" + base[len("http"):]
    url = f"{base}/socket.io/?EIO=4&transport={transport}"
    return f"{url}&sid={sid}" if sid else url


class Polling:
    """One Engine.IO session over HTTP long-polling."""

    def __init__(self, ctx: Ctx, label: str = "polling", req: str = "TRANS-3") -> None:
        self.ctx: Ctx = ctx
        self.label, self.req = label, req
        self.http = requests.Session()
        self.sid: str | None = None
        self.open: dict[str, Any] = {}
        ctx.closers.append(self.http.close)

    def _request(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        """One HTTP exchange; a reset or a timeout is a finding of ``self.req``."""
        try:
            return self.http.request(method, url, **kwargs)
        except requests.RequestException as exc:
            _record(self.ctx, self.label, "received", f"<{type(exc).__name__}: {exc}>")
            self.ctx.fail(self.req, what, f"{type(exc).__name__}: {short(str(exc), 300)}")

    def try_post(self, body: str | bytes) -> requests.Response | str:
        """A POST whose connection may fail: the response, or what happened to it."""
        _record(self.ctx, self.label, "sent", body)
        try:
            resp = self.http.post(eio_url(self.ctx, "polling", self.sid), data=body,
                                  headers={"Content-Type": "text/plain;charset=UTF-8"},
                                  timeout=self.ctx.target.timeouts.ack)
        except requests.RequestException as exc:
            text = f"{type(exc).__name__}: {short(str(exc), 300)}"
            _record(self.ctx, self.label, "received", f"<{text}>")
            return text
        _record(self.ctx, self.label, "received", f"HTTP {resp.status_code} {resp.text[:200]}")
        return resp

    def handshake(self, req: str) -> dict[str, Any]:
        resp = self._request("GET", eio_url(self.ctx, "polling"), "the polling handshake answers",
                             timeout=self.ctx.target.timeouts.connect)
        _record(self.ctx, self.label, "received", f"HTTP {resp.status_code} {resp.text}")
        if resp.status_code != 200 or not resp.text.startswith("0"):
            self.ctx.fail(req, "the polling handshake answers 200 with an OPEN packet",
                          f"HTTP {resp.status_code} {resp.text[:300]!r}")
        try:
            self.open = json.loads(resp.text[1:])
        except ValueError:
            self.ctx.fail(req, "the OPEN packet's payload is JSON", resp.text[:300])
        self.sid = self.open.get("sid")
        return self.open

    def get(self, timeout: float | None = None) -> tuple[int, list[str]]:
        """One poll: the status and the packets of the batch."""
        resp = self._request("GET", eio_url(self.ctx, "polling", self.sid), "a poll answers",
                             timeout=timeout or self.ctx.target.timeouts.event + 30)
        _record(self.ctx, self.label, "received", f"HTTP {resp.status_code} {resp.text}")
        return resp.status_code, resp.text.split(SEP) if resp.text else []

    def post(self, *packets: str | bytes) -> requests.Response:
        if len(packets) == 1 and isinstance(packets[0], bytes):
            body: str | bytes = packets[0]
        else:
            body = SEP.join(p if isinstance(p, str) else p.decode() for p in packets)
        resp = self.try_post(body)
        if isinstance(resp, str):
            self.ctx.fail(self.req, "a POST over polling answers", resp)
        return resp

    def receive(self, want: str, req: str, what: str) -> str:
        """Poll until a packet starting with ``want`` arrives (pings are answered)."""
        deadline = time.monotonic() + self.ctx.target.timeouts.event
        while time.monotonic() < deadline:
            status, packets = self.get(timeout=self.ctx.target.timeouts.event)
            if status != 200:
                self.ctx.fail(req, what, f"poll answered HTTP {status}")
            for p in packets:
                if p.startswith(want):
                    self.ctx.observe()
                    return p
                if p == "2":
                    self.post("3")
        self.ctx.fail(req, what, f"no packet starting {want!r} within the event timeout")


class RawWebSocket:
    """One WebSocket, frames as they are, for checks below the Socket.IO layer."""

    def __init__(self, ctx: Ctx, label: str = "ws", sid: str | None = None,
                 req: str = "TRANS-2") -> None:
        self.ctx: Ctx = ctx
        self.label, self.req = label, req
        self.ws = websocket.WebSocket(skip_utf8_validation=True)
        self.closed = False
        ctx.closers.append(self.close)
        url = eio_url(ctx, "websocket", sid)
        try:
            self.ws.connect(url, timeout=ctx.target.timeouts.connect)
        except (OSError, websocket.WebSocketException) as exc:
            _record(ctx, label, "received", f"<{type(exc).__name__}: {exc}>")
            ctx.fail(req, f"a WebSocket opens at {url}", f"{type(exc).__name__}: {exc}")

    def send(self, frame: str | bytes) -> None:
        """Send a frame; on a connection the server closed, record that and go on."""
        _record(self.ctx, self.label, "sent", frame)
        try:
            if isinstance(frame, bytes):
                self.ws.send_bytes(frame)
            else:
                self.ws.send_text(frame)
        except (OSError, websocket.WebSocketException) as exc:
            _record(self.ctx, self.label, "received", f"<send failed: {type(exc).__name__}>")
            self.closed = True

    def recv(self, timeout: float) -> str | bytes | None:
        """The next frame; None when the connection closed or nothing came within ``timeout``."""
        self.ws.settimeout(timeout)
        try:
            frame = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            return None
        except (OSError, websocket.WebSocketException):
            self.closed = True
            return None
        if frame in ("", b""):
            self.closed = True
            return None
        _record(self.ctx, self.label, "received", frame)
        return frame

    def expect(self, want: str, req: str, what: str, timeout: float | None = None) -> str:
        """Read frames until one starts with ``want``; pings are answered on the way."""
        limit = timeout or self.ctx.target.timeouts.event
        deadline = time.monotonic() + limit
        while (left := deadline - time.monotonic()) > 0:
            frame = self.recv(left)
            if frame is None:
                if self.closed:
                    self.ctx.fail(req, what, "the server closed the WebSocket")
                break
            if isinstance(frame, str) and frame.startswith(want):
                self.ctx.observe()
                return frame
            if frame == "2":
                self.send("3")
        self.ctx.fail(req, what, f"no frame starting {want!r} within {limit:g}s")

    def open_and_connect(self, token: str, req: str) -> dict[str, Any]:
        """OPEN, then a Socket.IO CONNECT with the token; the CONNECT answer's payload."""
        opened = self.parse(self.expect("0", req, "an Engine.IO OPEN packet")[1:], req, "OPEN")
        self.send("40" + json.dumps({"token": token}))
        answer = self.expect("4", req, "a Socket.IO CONNECT answer")
        if not answer.startswith("40"):
            self.ctx.fail(req, "CONNECT is accepted", answer)
        return opened

    def parse(self, text: str, req: str, what: str) -> Any:
        """The JSON of a frame's payload; a payload that does not parse is a finding."""
        try:
            return json.loads(text)
        except ValueError:
            self.ctx.fail(req, f"the {what} payload is JSON", short(text, 300))

    def wait_closed(self, timeout: float) -> bool:
        """Whether the server closed this WebSocket (frames are drained on the way)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.recv(left)
            if self.closed:
                return True
        return False

    def close(self) -> None:
        with contextlib.suppress(OSError, websocket.WebSocketException):
            self.ws.close(timeout=0.2)
