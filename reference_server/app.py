"""The chat app on the reference server: the Socket.IO handler between the transport, the chat
rules and the store (``compose.py`` builds and runs them).

Data flows one way: the transport hands each event to ``ChatApp``, the rules turn it into
effects, the writes go to the store, and the emits and the ack wait in an ordered outbox until
their writes are committed (CONTRACT §8: nothing goes out before it is durable). The outbox is
one FIFO for the whole server, so the order the rules decided is the order sockets see, and a
request without writes (typing, join) queued behind a pending send waits its turn rather than
overtaking it. So ``on_event`` need not wait for its commit: it is synchronous, called by the
connection's reader as the event arrives, and returns once the effects are queued; the socket's
next request is handled while the commit runs (the FIFO keeps them in order). A socket with
``IN_FLIGHT_LIMIT`` requests waiting for commits is ``backlogged``: its connection stops
reading until they drain, which bounds what one client can queue.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import trio
from taskchat.reference_server.auth import AuthFailure, Verifier
from taskchat.reference_server.chat import WRITE_TYPES, ChatRules, Effect, Emit, Reply
from taskchat.reference_server.config import ServerConfig
from taskchat.reference_server.store import Store, write_failure_message
from taskchat.schemas import ErrorCode

if TYPE_CHECKING:
    from taskchat.reference_server.socketio_server import Ack, SocketRef

log = logging.getLogger("taskchat.server")


IN_FLIGHT_LIMIT = 32  # requests of one socket waiting for their commit before it waits


@dataclass(slots=True)
class _Entry:
    ticket: int
    effects: list[Effect]
    ack: Ack | None
    owner: str | None = None  # the socket whose request this is
    done: bool = False
    released: trio.Event | None = field(default=None)
    failure: BaseException | None = None  # why its writes were not kept, if they were not


class Outlet(Protocol):
    """Where the app's emits go (``socketio_server.Sockets``)."""

    def emit(self, sids: Iterable[str], event: str, *args: object) -> None: ...


class TrioWallClock:
    """Wall-clock seconds (for the timestamps the rules write) read from trio's clock: the
    epoch offset is taken once, so a test's ``MockClock`` drives every timer and every
    timestamp of the app, and deadlines convert back with :meth:`to_trio`."""

    __slots__ = ("_offset",)

    def __init__(self) -> None:
        self._offset: float | None = None

    def offset(self) -> float:
        if self._offset is None:
            self._offset = time.time() - trio.current_time()
        return self._offset

    def __call__(self) -> float:
        return self.offset() + trio.current_time()

    def to_trio(self, wall: float) -> float:
        return wall - self.offset()


class ChatApp:
    """The transport's ``Handler``: authenticates sockets and runs the rules' effects."""

    def __init__(
        self, config: ServerConfig, store: Store, rules: ChatRules, verifier: Verifier,
        outlet: Outlet,
    ) -> None:
        self.config = config
        self.store = store
        self.rules = rules
        self.verifier = verifier
        self.outlet = outlet
        self._outbox: deque[_Entry] = deque()
        self._in_flight: dict[str, int] = {}  # sid -> its entries still in the outbox
        self._drained: trio.Event | None = None  # set when entries left the outbox
        self._typing_wake = trio.Event()
        self._typing_deadline: float | None = None
        self.clock = TrioWallClock()

    # ------------------------------------------------------------------ Handler

    async def on_connect(self, sock: SocketRef, auth: object) -> dict[str, object] | None:
        try:
            identity = self.verifier.verify_auth(auth)
        except AuthFailure as refusal:
            log.info(
                "event=connect_refused sid=%s transport=%s remote=%s code=%s",
                sock.sid, sock.transport, sock.remote, refusal.code,
            )
            return refusal.payload()
        self.rules.connect(sock.sid, identity)
        log.info(
            "event=connect sid=%s user=%s transport=%s remote=%s",
            sock.sid, identity.user_id, sock.transport, sock.remote,
        )
        return None

    def on_event(self, sock: SocketRef, event: str, args: list[object], ack: Ack | None) -> None:
        try:
            effects = self.rules.handle_event(sock.sid, event, args, self.clock())
        except Exception:
            log.exception("event=internal_error sid=%s name=%s", sock.sid, event[:64])
            effects = self.rules.internal_error(sock.sid, event, args)
        self.enqueue(effects, ack, owner=sock.sid)
        self._check_typing()

    def backlogged(self, sock: SocketRef) -> bool:
        return self._in_flight.get(sock.sid, 0) >= IN_FLIGHT_LIMIT

    async def wait_capacity(self, sock: SocketRef) -> None:
        while self.backlogged(sock):
            if self._drained is None:
                self._drained = trio.Event()
            await self._drained.wait()

    async def on_disconnect(self, sock: SocketRef, reason: str) -> None:
        identity = self.rules.identity(sock.sid)
        effects = self.rules.disconnect(sock.sid, self.clock())
        log.info(
            "event=disconnect sid=%s user=%s reason=%s",
            sock.sid, identity.user_id if identity else "-", reason.replace(" ", "_"),
        )
        await self.execute(effects)

    def health_problem(self) -> str | None:
        """Why the server cannot do its job (for /healthz), or None when it can."""
        return self.store.problem

    # ------------------------------------------------------------------ effects

    async def execute(
        self, effects: list[Effect], ack: Ack | None = None
    ) -> BaseException | None:
        """Submit the writes, then wait until the effects went out (after their commit).

        Returns why the writes were not kept (nothing went out then), None when they were: a
        caller without an ack (the HTTP API) must not answer success for a write that failed."""
        entry = self.enqueue(effects, ack)
        if not entry.done:
            entry.released = trio.Event()
            await entry.released.wait()
        return entry.failure

    def enqueue(
        self, effects: list[Effect], ack: Ack | None = None, *, owner: str | None = None
    ) -> _Entry:
        writes = [e for e in effects if isinstance(e, WRITE_TYPES)]
        ticket = self.store.submit(writes) if writes else 0
        entry = _Entry(ticket, effects, ack, owner)
        if owner is not None:
            self._in_flight[owner] = self._in_flight.get(owner, 0) + 1
        self._outbox.append(entry)
        self.drain()
        return entry

    def drain(self) -> None:
        """Release, in order, every outbox entry whose writes are committed."""
        committed = self.store.committed
        while self._outbox and self._outbox[0].ticket <= committed:
            entry = self._outbox.popleft()
            owner = entry.owner
            if owner is not None:
                left = self._in_flight[owner] - 1
                if left:
                    self._in_flight[owner] = left
                else:
                    del self._in_flight[owner]
            try:
                self._perform(entry)
            except Exception:
                log.exception("event=perform_failed")
            entry.done = True
            if entry.released is not None:
                entry.released.set()
            if self._drained is not None:
                self._drained.set()
                self._drained = None

    def _perform(self, entry: _Entry) -> None:
        outlet = self.outlet
        failure = entry.failure = self.store.failure(entry.ticket)
        if failure is not None:  # this request's writes were not kept: nothing happened
            if entry.ack is not None:
                entry.ack({"ok": False, "error": {"code": ErrorCode.INTERNAL,
                                                  "message": write_failure_message(failure)}})
            return
        for e in entry.effects:
            if isinstance(e, Emit):
                outlet.emit(e.to, e.event, e.payload)
            elif isinstance(e, Reply) and entry.ack is not None and not entry.ack.answered:
                entry.ack(e.payload)

    # ------------------------------------------------------------------ typing expiry

    def _check_typing(self) -> None:
        deadline = self.rules.next_deadline()
        if deadline is not None and (
            self._typing_deadline is None or deadline < self._typing_deadline
        ):
            self._typing_wake.set()

    async def typing_loop(self) -> None:
        """Sleep until the next typing deadline, then let the rules announce what expired."""
        while True:
            self._typing_deadline = self.rules.next_deadline()
            if self._typing_deadline is None:
                await self._typing_wake.wait()
            else:
                with trio.move_on_at(self.clock.to_trio(self._typing_deadline)):
                    await self._typing_wake.wait()
            self._typing_wake = trio.Event()
            effects = self.rules.tick(self.clock())
            if effects:
                self.enqueue(effects)
