"""Engine.IO sessions in trio: the sans-IO core of each plus what wakes it and what carries it.

A session outlives the HTTP requests and WebSockets that carry it, so it lives in the server's
nursery, with one task (``EngineConnection.run``): its heartbeat timers, and on WebSocket the
writer of what the socket would not take at once. Everything else writes straight through: a
packet sent to a WebSocket session whose socket is writable goes out from the sender's own
call, in one ``send()``, without waking anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol

import trio

from .. import engineio as eio
from ..config import TransportSettings
from ..engineio import EngineSession, Event, MessageReceived, OutPacket
from ..engineio_http import REASON_SHUTDOWN, close_code
from .http import CLOSE_TIMEOUT
from .signal import Signal
from .websocket import WebSocket, frames

log = logging.getLogger("taskchat.reference_server.transport")

CLOSED_POLL_GRACE: Final = 1.0  # see Sessions.remember_closed_poll


class EngineApp(Protocol):
    """What runs on one Engine.IO session (Socket.IO, or the raw echo of the test mode).

    Every method but ``wait_capacity`` is synchronous and called from trio."""

    def receive(self, data: str | bytes) -> None:
        """One Engine.IO MESSAGE, in arrival order."""

    def closed(self, reason: str) -> None:
        """The session is over (called once)."""

    def next_deadline(self) -> float: ...

    def handle_timers(self, now: float) -> None: ...

    @property
    def backlogged(self) -> bool:
        """True while the app wants the reader to stop reading (its inbox is full)."""

    async def wait_capacity(self) -> None: ...


AppFactory = Callable[["EngineConnection"], EngineApp]


class EngineConnection:
    """One Engine.IO session in the server: its public face is ``send_many``, ``close``,
    ``abort`` and ``wake``; the transports that carry it call the rest."""

    __slots__ = (
        "_poll_signal",
        "_sessions",
        "_signal",
        "app",
        "core",
        "done",
        "path",
        "probe",
        "remote",
        "ws",
    )

    def __init__(
        self, sessions: Sessions, core: EngineSession, path: str, remote: str,
        app_factory: AppFactory,
    ) -> None:
        self._sessions = sessions
        self.core = core
        self.path = path
        self.remote = remote
        self.ws: WebSocket | None = None  # the WebSocket carrying the session
        self.probe: WebSocket | None = None  # a WebSocket probing an upgrade
        self._signal = Signal()  # the session task
        self._poll_signal = Signal()  # a pending polling GET
        self.done = Signal()  # the session task ended (one waiter: the WebSocket's task)
        self.app: EngineApp = app_factory(self)

    @property
    def sid(self) -> str:
        return self.core.sid

    @property
    def transport_name(self) -> str:
        return self.core.transport

    # -- the public face ------------------------------------------------------------------

    def send(self, pkt: OutPacket) -> bool:
        return self.send_many((pkt,))

    def send_many(self, pkts: tuple[OutPacket, ...] | list[OutPacket]) -> bool:
        """Queue packets, in order after everything sent before; never blocks. False if the
        session is closed (or closed now as a slow consumer). On a writable WebSocket they
        go out now, in one write."""
        core = self.core
        ws = self.ws
        if ws is not None and core.state == eio.STATE_OPEN and not core.queue and (
            ws.can_write_now
        ):
            # the common case: nothing queued and the socket writable, so the packets go out
            # now, in one write, without passing through the queue
            try:
                if not ws.write_now(frames(pkts)):
                    self._signal.set()  # the rest when the socket is writable
            except OSError:
                self.abort(eio.REASON_TRANSPORT_CLOSE)
                return False
            return True
        if not core.send_many(pkts):
            self._kick()
            return False
        if ws is None:
            self._poll_signal.set()
        elif ws.can_write_now and core.state == eio.STATE_OPEN:
            try:
                if not ws.write_now(frames(core.take())):
                    self._signal.set()  # the rest when the socket is writable
            except OSError:
                self.abort(eio.REASON_TRANSPORT_CLOSE)
        else:
            self._signal.set()
        return True

    def close(self, reason: str, *, flush: bool = True) -> None:
        """Server-side close; with ``flush`` what is queued goes out first."""
        self.core.close(reason, trio.current_time(), flush=flush)
        self._kick()

    def abort(self, reason: str) -> None:
        """Close now, dropping what is queued."""
        self.core.abort(reason)
        self._kick()

    def wake(self) -> None:
        """The app's timers changed: the session task looks again."""
        self._signal.set()

    def start_soon(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run a task for this session's app in the server's nursery (it outlives requests)."""
        self._sessions.nursery.start_soon(fn, *args)

    # -- for the transports ---------------------------------------------------------------

    def _kick(self) -> None:
        """Wake everything that waits on this session (after a state change)."""
        if self.core.closed and self.ws is not None:
            self.ws.cancel_write()  # a write stuck behind a slow consumer
        self._signal.set()
        self._poll_signal.set()

    def deliver(self, events: list[Event]) -> None:
        """Hand received messages to the app, in order; wake the session if it closed."""
        app = self.app
        for ev in events:
            if type(ev) is MessageReceived:
                try:
                    app.receive(ev.data)
                except Exception:
                    log.exception("app.receive failed (sid=%s)", self.core.sid)
                    self.core.abort(eio.REASON_TRANSPORT_ERROR)
                    break
        if self.core.closed:
            self._kick()

    def receive_ws(self, message: str | bytes, size: int) -> None:
        self.deliver(self.core.receive_ws(message, trio.current_time(), size))

    def send_raw(self, data: bytes) -> None:
        """Bytes for the WebSocket ahead of the queue (a pong)."""
        if self.ws is not None:
            self.ws.pending.append(data)
            self._signal.set()

    @property
    def backlogged(self) -> bool:
        return self.app.backlogged

    async def wait_capacity(self) -> None:
        await self.app.wait_capacity()

    def probe_message(self, ws: WebSocket, message: str | bytes) -> str:
        """A message on the probe WebSocket: the upgrade's steps."""
        result, _events = self.core.receive_probe(message, trio.current_time())
        if result == eio.PROBE_REPLY_SENT:
            self._poll_signal.set()  # release the pending GET
        elif result == eio.PROBE_UPGRADED:
            self.probe = None
            self.ws = ws
            log.debug("eio upgrade sid=%s", self.core.sid)
            self._kick()  # what was queued for polling goes out on the WebSocket
        return result

    async def wait_poll(self) -> bytes | None:
        """Serve a polling GET: the body to answer, or None for a 400. On cancellation
        (shutdown) the session closes and the GET gets CLOSE: ``Cancelled`` carries on."""
        core = self.core
        result, events = core.poll_begin(trio.current_time())
        if events or core.closed:
            self._kick()
        if result != eio.POLL_OK:
            return None
        try:
            while True:
                body = core.poll_take(trio.current_time())
                if body is not None:
                    break
                with trio.move_on_at(core.poll_deadline()):
                    await self._poll_signal.wait()
        finally:
            core.poll_end()
        if core.closed:
            self._kick()
        return None if body == eio.POLL_GONE else body

    def shutdown_poll_body(self) -> bytes:
        """What a GET pending at shutdown answers (the session is closed first)."""
        self.abort(REASON_SHUTDOWN)
        return self.core.poll_take(trio.current_time()) or b"1"

    def poll_lost(self) -> None:
        """A GET's answer could not be written: its packets are lost, so the session ends."""
        self.core.poll_abandoned()
        self._kick()

    async def run_websocket(self, ws: WebSocket, probe: bool) -> None:
        """The connection task of a WebSocket that carries (or, as a probe, may come to
        carry) this session, after its handshake went out."""
        if probe:
            self.probe = ws
        else:
            self.ws = ws
            self._kick()  # the OPEN packet is queued: let the writer go
        upgraded = False
        try:
            upgraded = await ws.read(self, probe)
        finally:
            if not probe or upgraded:
                # the session's own WebSocket: the session task writes the close frame
                if not self.core.closed:
                    self.abort(REASON_SHUTDOWN)
                with trio.CancelScope(shield=True) as scope:
                    scope.deadline = trio.current_time() + CLOSE_TIMEOUT * 2
                    await self.done.wait()
            ws.fd = -1  # the stream closes after this: no direct write may reach its fd
        if probe and not upgraded:
            self.probe_failed(ws)
            await ws.send_close(close_code("", ws.protocol_error))

    def probe_failed(self, ws: WebSocket) -> None:
        self.core.detach_probe()
        if self.probe is ws:
            self.probe = None

    # -- the session task -----------------------------------------------------------------

    async def run(self, write_timeout: float) -> None:
        """Heartbeat timers; on WebSocket also the writer of what would block. Ends when the
        session closes."""
        core = self.core
        app = self.app
        try:
            while not core.closed:
                ws = self.ws
                if ws is not None and (
                    core.has_output or ws.pending or core.state == eio.STATE_CLOSING
                ):
                    pkts = core.take()
                    if pkts or ws.pending:
                        why = await ws.write(frames(pkts) if pkts else b"", write_timeout)
                        if why is not None:
                            core.abort(why)
                            break
                    continue
                deadline = min(core.next_deadline(), app.next_deadline())
                if deadline > trio.current_time():
                    with trio.move_on_at(deadline):
                        await self._signal.wait()
                now = trio.current_time()
                core.handle_timers(now)
                app.handle_timers(now)
                if ws is None and core.has_output:
                    self._poll_signal.set()
        except trio.Cancelled:
            core.abort(REASON_SHUTDOWN)
            raise
        except Exception:  # pragma: no cover - a bug closes this session, not the server
            log.exception("session task failed (sid=%s)", core.sid)
            core.abort(eio.REASON_TRANSPORT_ERROR)
        finally:
            await self._teardown()

    async def _teardown(self) -> None:
        core = self.core
        with trio.CancelScope(shield=True) as scope:
            scope.deadline = trio.current_time() + CLOSE_TIMEOUT
            if not core.closed:
                core.abort(REASON_SHUTDOWN)
            reason = core.close_reason or eio.REASON_TRANSPORT_CLOSE
            self._sessions.forget(self)
            self._poll_signal.set()  # a pending GET answers now
            try:
                self.app.closed(reason)
            except Exception:
                log.exception("app.closed failed (sid=%s)", core.sid)
            for ws in (self.ws, self.probe):
                if ws is not None:
                    await ws.send_close(close_code(reason, ws.protocol_error))
                    ws.stop_reading()
            self.done.set()
            log.debug("eio close sid=%s reason=%s", core.sid, reason)


class Sessions:
    """The open sessions of one server, by sid."""

    def __init__(
        self, settings: TransportSettings, apps: dict[str, AppFactory], nursery: trio.Nursery
    ) -> None:
        self.settings = settings
        self.apps = apps  # path prefix ("/socket.io/") -> app factory
        self.nursery = nursery
        self._by_sid: dict[str, EngineConnection] = {}
        self._closed_polls: dict[str, float] = {}  # sid -> until when a late GET gets NOOP

    def open(self, transport: str, path: str, remote: str) -> EngineConnection:
        s = self.settings
        core = EngineSession(
            transport,
            trio.current_time(),
            ping_interval=s.ping_interval,
            ping_timeout=s.ping_timeout,
            max_payload=s.max_payload,
            queue_limit=s.send_queue_limit,
        )
        conn = EngineConnection(self, core, path, remote, self.apps[path])
        self._by_sid[core.sid] = conn
        log.debug("eio open sid=%s transport=%s remote=%s", core.sid, transport, remote)
        self.nursery.start_soon(conn.run, s.write_timeout)
        return conn

    def get(self, sid: str, path: str) -> EngineConnection | None:
        conn = self._by_sid.get(sid)
        return conn if conn is not None and conn.path == path else None

    def forget(self, conn: EngineConnection) -> None:
        if self._by_sid.get(conn.sid) is conn:
            del self._by_sid[conn.sid]

    def remember_closed_poll(self, sid: str) -> None:
        """A client closed its polling session while no GET was pending; a GET it sent at
        the same time may still be on its way (the two requests race on two connections):
        answer it with the NOOP it would have got, once, for a short while."""
        now = trio.current_time()
        if len(self._closed_polls) > 64:
            self._closed_polls = {k: t for k, t in self._closed_polls.items() if t > now}
        self._closed_polls[sid] = now + CLOSED_POLL_GRACE

    def late_poll(self, sid: str) -> bool:
        """True once if ``sid`` is a session its client just closed (see above)."""
        return self._closed_polls.pop(sid, 0.0) > trio.current_time()

