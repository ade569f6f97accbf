"""The listening socket: each TCP connection speaks HTTP/1.1 until it upgrades to a WebSocket;
requests under an Engine.IO path (``/socket.io/``) go to the sessions, any other to the HTTP
handler."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs, urlsplit

import h11
import trio

from .. import engineio as eio
from .. import engineio_http as route_of
from ..config import TransportSettings
from ..engineio_http import EioError
from .http import BROKEN, TEXT_PLAIN, Headers, HttpConnection, TooLarge
from .polling import serve_get, serve_post
from .sessions import AppFactory, EngineConnection, Sessions
from .websocket import WebSocket

log = logging.getLogger("taskchat.reference_server.transport")

HttpCallback = Callable[[str, str, Headers, bytes], Awaitable[tuple[int, Headers, bytes]]]

_EIO_TEXT: Final = (b"content-type", b"text/plain; charset=UTF-8")
_JSON: Final = (b"content-type", b"application/json")


@dataclass(frozen=True, slots=True)
class _Upgrade:
    """A WebSocket that now carries (or probes for) a session: the connection's task runs it."""

    conn: EngineConnection
    ws: WebSocket
    probe: bool


class Transport:
    """Serves Engine.IO (WebSocket and long-polling) and plain HTTP on one port."""

    def __init__(
        self,
        settings: TransportSettings,
        apps: dict[str, AppFactory],
        http: HttpCallback | None = None,
    ) -> None:
        self.settings = settings
        self.apps = apps  # path prefix ("/socket.io/") -> app factory
        self.http = http
        cors = settings.cors_origin
        self._cors: Headers = [] if cors is None else [
            (b"access-control-allow-origin", cors.encode())
        ]

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        s = self.settings
        listeners = await trio.open_tcp_listeners(s.port, host=s.host)
        port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            sessions = Sessions(s, self.apps, nursery)
            log.info("listening on %s:%d", s.host, port)
            task_status.started(port)
            async def handler(stream: trio.SocketStream) -> None:
                await self._connection(stream, sessions)

            await trio.serve_listeners(handler, listeners, handler_nursery=nursery)

    async def _connection(self, stream: trio.SocketStream, sessions: Sessions) -> None:
        http = HttpConnection(stream, self.settings.write_timeout)
        try:
            while True:
                req = await http.next_request()
                if req is None:
                    return
                result = await self._request(http, req, sessions)
                del req  # a WebSocket keeps none of the HTTP request's state
                if isinstance(result, _Upgrade):
                    http.forget_http()
                    await result.conn.run_websocket(result.ws, result.probe)
                    return
                if not result:
                    return
        except (h11.ProtocolError, *BROKEN):
            return
        except Exception:  # a bug closes this connection (and its session), not the server
            log.exception("connection from %s failed", http.remote)
        finally:
            await http.aclose()

    async def _request(
        self, http: HttpConnection, req: h11.Request, sessions: Sessions
    ) -> bool | _Upgrade:
        """Serve one request; False: the connection is done; an upgrade: run that WebSocket."""
        target = req.target.decode("latin-1")
        url = urlsplit(target)
        method = req.method.decode("latin-1").upper()
        app_path = next((p for p in self.apps if url.path.startswith(p)), None)
        try:
            body: bytes | None = await http.read_body(req, self.settings.max_payload)
            if body is None:
                return False  # timed out: a 408 went out
        except TooLarge:
            body = None
        if app_path is None:
            await self._plain_http(http, req, method, target, body)
            return body is not None
        headers = dict(req.headers)
        decision = route_of.route(
            method,
            parse_qs(url.query),
            upgrade=b"websocket" in headers.get(b"upgrade", b"").lower(),
            ws_key=headers.get(b"sec-websocket-key"),
            ws_version=headers.get(b"sec-websocket-version"),
            cors=self.settings.cors_origin is not None,
        )
        answer = await self._engineio(http, decision, app_path, body, sessions)
        if answer is None:
            return False  # a refused WebSocket: closed already
        if isinstance(answer, _Upgrade):
            return answer
        if isinstance(answer, bool):
            return True  # answered already (a poll)
        if isinstance(answer, EioError):
            status, headers_out, payload = 400, [_JSON, *self._cors], answer.body
        else:
            status, headers_out, payload = answer
        await http.respond(status, headers_out, payload, close=body is None)
        return body is not None

    async def _engineio(
        self, http: HttpConnection, decision: route_of.Route, app_path: str,
        body: bytes | None, sessions: Sessions,
    ) -> tuple[int, Headers, bytes] | EioError | _Upgrade | bool | None:
        """True: answered; None: the connection is over."""
        text = [_EIO_TEXT, *self._cors]
        if isinstance(decision, route_of.Preflight):
            allow = [(b"access-control-allow-methods", b"GET, POST"),
                     (b"access-control-allow-headers", b"content-type")]
            return 204, [*self._cors, *allow], b""
        if isinstance(decision, route_of.Refuse):
            return decision.error
        if isinstance(decision, route_of.Open) and decision.transport == eio.POLLING:
            conn = sessions.open(eio.POLLING, app_path, http.remote)
            return 200, text, conn.core.open_packet().data
        if isinstance(decision, (route_of.Open, route_of.Probe)):
            if body is None:
                return EioError.BAD_REQUEST
            return await self._websocket(http, decision, app_path, sessions)
        if isinstance(decision, route_of.Poll) and sessions.late_poll(decision.sid):
            return 200, text, b"6"  # the NOOP it would have got a moment earlier
        session = sessions.get(decision.sid, app_path)
        if session is None:
            return EioError.SID_UNKNOWN
        if isinstance(decision, route_of.Poll):
            refused = await serve_get(session, http, text)
            return True if refused is None else refused
        if body is None:
            session.abort(eio.REASON_PAYLOAD_TOO_LARGE)
            return 413, text, b"payload too large"
        answer = await serve_post(session, sessions, body)
        return answer if isinstance(answer, EioError) else (answer[0], text, answer[1])

    async def _websocket(
        self, http: HttpConnection, decision: route_of.Open | route_of.Probe, app_path: str,
        sessions: Sessions,
    ) -> EioError | _Upgrade | None:
        conn: EngineConnection | None = None
        if isinstance(decision, route_of.Probe):
            conn = sessions.get(decision.sid, app_path)
            if conn is None:
                return EioError.SID_UNKNOWN
        handshake, trailing = http.switch_protocols(route_of.accept_headers(decision.ws_key))
        ws = WebSocket(http.stream, trailing)
        probe = conn is not None
        if conn is None:
            conn = sessions.open(eio.WEBSOCKET, app_path, http.remote)
            conn.core.send(conn.core.open_packet())
        elif not conn.core.attach_probe():
            # already upgraded or upgrading: accepted, then closed at once (as Node does)
            if await self._write(http, handshake):
                await ws.send_close(route_of.WS_NORMAL)
            return None
        if not await self._write(http, handshake):
            if probe:
                conn.probe_failed(ws)
            else:
                conn.abort(eio.REASON_TRANSPORT_CLOSE)
            return None
        return _Upgrade(conn, ws, probe)

    async def _write(self, http: HttpConnection, data: bytes) -> bool:
        with trio.move_on_after(self.settings.write_timeout):
            try:
                await http.stream.send_all(data)
                return True
            except BROKEN:
                return False
        return False

    async def _plain_http(
        self, http: HttpConnection, req: h11.Request, method: str, target: str,
        body: bytes | None,
    ) -> None:
        if body is None:
            await http.send_simple(413, b"payload too large\n")
            return
        if self.http is None:
            status, headers, payload = 404, [TEXT_PLAIN], b"not found\n"
        else:
            try:
                status, headers, payload = await self.http(method, target, list(req.headers), body)
            except Exception:
                log.exception("HTTP handler failed: %s %s", method, target)
                status, headers, payload = 500, [TEXT_PLAIN], b"internal server error\n"
        await http.respond(status, list(headers), payload, head=method == "HEAD")
