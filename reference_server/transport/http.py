"""One HTTP/1.1 connection, parsed by h11: read a request and its body, send a response, switch
to WebSocket, close gracefully. Nothing here knows Engine.IO."""

from __future__ import annotations

import contextlib
from typing import Final

import h11
import trio

RECEIVE_SIZE: Final = 65536
MAX_HEADER_SIZE: Final = 16384
KEEPALIVE_TIMEOUT: Final = 60.0  # an idle keep-alive connection
REQUEST_TIMEOUT: Final = 30.0  # to receive a request's head and body
CLOSE_TIMEOUT: Final = 0.5  # for the last bytes (a response, close frames) when a connection ends

Headers = list[tuple[bytes, bytes]]
TEXT_PLAIN: Final = (b"content-type", b"text/plain; charset=utf-8")
BROKEN: Final = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


class TooLarge(Exception):
    """The request body is over the limit (the connection must close after the answer)."""


class HttpConnection:
    """The server side of one TCP connection while it speaks HTTP/1.1."""

    __slots__ = ("_h", "remote", "stream", "write_timeout")

    def __init__(self, stream: trio.SocketStream, write_timeout: float) -> None:
        self.stream = stream
        self.write_timeout = write_timeout
        self._h: h11.Connection | None = h11.Connection(
            h11.SERVER, max_incomplete_event_size=MAX_HEADER_SIZE
        )
        try:
            host, port = stream.socket.getpeername()[:2]
            self.remote = f"{host}:{port}"
        except OSError:
            self.remote = "?"

    @property
    def _parser(self) -> h11.Connection:
        assert self._h is not None, "the connection is a WebSocket now"
        return self._h

    async def _event(self) -> object:
        h = self._parser
        while True:
            event = h.next_event()
            if event is h11.NEED_DATA:
                h.receive_data(await self.stream.receive_some(RECEIVE_SIZE))
                continue
            return event

    async def next_request(self) -> h11.Request | None:
        """The next request's head; None when the connection should end (closed, idle too
        long, or not HTTP: then a 4xx went out)."""
        h = self._parser
        if h.our_state is h11.MUST_CLOSE or h.their_state is h11.MUST_CLOSE:
            return None
        if h.our_state is h11.DONE:
            try:
                h.start_next_cycle()
            except h11.LocalProtocolError:
                return None
        with trio.move_on_after(KEEPALIVE_TIMEOUT):
            try:
                event = await self._event()
            except h11.RemoteProtocolError as exc:
                await self.send_simple(exc.error_status_hint, b"bad request\n")
                return None
            return event if isinstance(event, h11.Request) else None
        return None

    async def read_body(self, req: h11.Request, limit: int) -> bytes | None:
        """The request's body, or None if it is over ``limit`` bytes (then answer and close)
        or took longer than ``REQUEST_TIMEOUT`` (then a 408 went out: answer nothing)."""
        for name, value in req.headers:
            if name == b"content-length":
                with contextlib.suppress(ValueError):
                    if int(value) > limit:
                        raise TooLarge
        chunks: list[bytes] = []
        size = 0
        with trio.move_on_after(REQUEST_TIMEOUT):
            while True:
                event = await self._event()
                if isinstance(event, h11.Data):
                    size += len(event.data)
                    if size > limit:
                        raise TooLarge
                    chunks.append(event.data)
                elif isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
                    return b"".join(chunks)
                else:
                    raise h11.RemoteProtocolError("unexpected event while reading a body")
        await self.send_simple(408, b"request timeout\n")
        return None

    async def respond(
        self, status: int, headers: Headers, body: bytes, *, head: bool = False,
        close: bool = False,
    ) -> None:
        """Send one response (BrokenResourceError if the peer went away or did not read it
        within the write timeout)."""
        h = self._parser
        if not any(name.lower() == b"content-length" for name, _ in headers):
            headers = [*headers, (b"content-length", str(len(body)).encode())]
        if close:
            headers.append((b"connection", b"close"))
        data = h.send(h11.Response(status_code=status, headers=headers))
        if body and not head:
            data += h.send(h11.Data(data=body))
        data += h.send(h11.EndOfMessage())
        with trio.move_on_after(self.write_timeout) as scope:
            await self.stream.send_all(data)
        if scope.cancelled_caught:
            raise trio.BrokenResourceError("response write timed out")

    async def send_simple(self, status: int, body: bytes) -> None:
        """A short text answer that ends the connection; never raises."""
        with contextlib.suppress(h11.LocalProtocolError, *BROKEN):
            await self.respond(status, [TEXT_PLAIN], body, close=True)

    def switch_protocols(self, headers: Headers) -> tuple[bytes, bytes]:
        """The 101 response's bytes, and what the peer sent after its request (the first
        WebSocket bytes). The HTTP state is dropped: a WebSocket does not keep it."""
        h = self._parser
        data = h.send(h11.InformationalResponse(status_code=101, headers=headers))
        trailing, _closed = h.trailing_data
        return data, trailing

    def forget_http(self) -> None:
        """The connection is a WebSocket now: drop the HTTP parser (a few KB per socket)."""
        self._h = None

    async def aclose(self) -> None:
        """Close gracefully: send FIN, then read (and drop) what the peer still sends until it
        closes too, briefly. Closing with unread data would reset the connection and could
        destroy our last response or close frame before the peer reads it."""
        stream = self.stream
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + CLOSE_TIMEOUT
            try:
                await stream.send_eof()
                while await stream.receive_some(RECEIVE_SIZE):
                    pass
            except (trio.BusyResourceError, *BROKEN):
                pass
        await trio.aclose_forcefully(stream)
