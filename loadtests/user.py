"""A Locust user for Socket.IO v5 servers, on the toolkit's own raw-WebSocket client.

Reuse it for your own scenarios: subclass ``SocketIOUser``, give it a token (``auth()``), and
write tasks with ``connect``, ``join``, ``call``, ``emit``, ``send_message``, ``wait_for`` and
``reconnect``. What it measures, in Locust's statistics under request type ``sio``:
connect+auth, every ack (``<event> ack``), and - through the process's ``DeliveryTracker`` -
delivery to every member, fan-out completion, typing and presence latency. Receives and plain
emits are not logged as 0 ms requests: they would drown the percentiles that matter. Every
connection that closes without the user asking counts as a disconnect.

Why not python-socketio's client or Locust's ``SocketIOUser``: measured on the same workload they
cost 2-3x the CPU per message and ~2x the memory per user, and python-socketio's client drops a
connection itself when the process falls behind, which turns an overloaded load generator into
"server disconnects".
"""

from __future__ import annotations

import random
import time
from functools import partial
from typing import Any

from locust import User
from taskchat.loadtests import runtime
from taskchat.loadtests.delivery import (
    CONNECT,
    CONNECTION,
    PRESENCE,
    REQUEST_TYPE,
    TYPING,
    ack_metric,
    text_with_marker,
)
from taskchat.schemas import Event

from taskchat.client import (
    AckTimeout,
    ClientError,
    ConnectFailed,
    Connection,
    ConnectionClosed,
    ConnectRefused,
)


class AckRefused(Exception):
    """The server answered ``ok: false``; the message carries its error code."""


class SocketIOUser(User):
    """One simulated person with one Socket.IO connection (reconnected as needed)."""

    abstract = True
    connect_timeout: float = 5.0
    ack_timeout: float = 5.0
    reconnect_attempts: int = 6
    backoff_base: float = 0.5  # seconds; doubles per attempt, with jitter
    backoff_max: float = 8.0

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.tracker = runtime.tracker(environment)
        self.conn: Connection | None = None
        self.sock = 0  # the tracker's key of the current connection
        self.user_key = self.tracker.new_socket()  # stable across reconnects (sender identity)
        self.joined_rooms: set[str] = set()
        self.user_id = ""
        # sends that got no answer, by clientMessageId, to retry after a reconnect
        self.outbox: dict[str, tuple[str, str]] = {}
        self._leaving_on_purpose = False
        self._fire = environment.events.request.fire

    # -- to override -------------------------------------------------------------------------

    def auth(self) -> dict[str, Any]:
        """The Socket.IO CONNECT auth object, e.g. ``{"token": jwt}``."""
        raise NotImplementedError

    def on_event(self, event: str, args: list[Any], t: float) -> None:
        """Every event this user receives; the default does nothing.

        It runs inside gevent's event loop (the connection has no reader greenlet of its own,
        to keep a user small): record, count, wake a greenlet - never block or sleep here.
        """

    # -- measuring ---------------------------------------------------------------------------

    def record(self, name: str, ms: float, exception: BaseException | None = None) -> None:
        self._fire(
            request_type=REQUEST_TYPE,
            name=name,
            response_time=ms,
            response_length=0,
            exception=exception,
            context={},
        )

    # -- connection --------------------------------------------------------------------------

    def connect(self) -> bool:
        """Connect and authenticate; False (and a failure in the stats) when it did not work."""
        sock = self.tracker.new_socket()
        conn = Connection(
            self.host,
            self.auth(),
            timeout=self.connect_timeout,
            keep_received=False,
            # partials, not lambdas: a third of the memory, and this is per connected user
            on_event=partial(self._on_event, sock),
            on_close=partial(self._on_close, sock),
        )
        start = time.perf_counter()
        try:
            conn.connect()
        except ConnectRefused as exc:
            self.record(CONNECT, _ms(start), AckRefused(f"refused: {exc.code or exc.payload}"))
            return False
        except ConnectFailed as exc:
            self.record(CONNECT, _ms(start), exc)
            return False
        self.record(CONNECT, _ms(start))
        self.conn, self.sock = conn, sock
        self._leaving_on_purpose = False
        return True

    @property
    def connected(self) -> bool:
        return self.conn is not None and self.conn.connected

    def disconnect(self) -> None:
        """Close on purpose (not counted as a disconnect)."""
        conn = self.conn
        if conn is not None:
            self._leaving_on_purpose = True
            conn.close()
            self.tracker.gone(self.sock)

    def drop(self) -> None:
        """Cut the connection as a network failure would (counted as a planned drop)."""
        conn = self.conn
        if conn is not None and conn.connected:
            self._leaving_on_purpose = True
            self.tracker.count("planned_drops")
            conn.drop("planned drop")

    def reconnect(self) -> bool:
        """Back off (exponential, jittered), connect again and rejoin this user's rooms."""
        self.disconnect()
        for attempt in range(self.reconnect_attempts):
            delay = min(self.backoff_max, self.backoff_base * 2**attempt)
            time.sleep(delay * random.uniform(0.5, 1.0))
            if self.connect():
                self.tracker.count("reconnects")
                for room in sorted(self.joined_rooms):
                    self.join(room)
                return True
        self.tracker.count("reconnect_failures")
        return False

    def on_stop(self) -> None:
        self.disconnect()

    def _on_close(self, sock: int, reason: str) -> None:
        self.tracker.gone(sock)
        if sock == self.sock and not self._leaving_on_purpose:
            self.tracker.count("disconnects")
            self.environment.stats.log_error(REQUEST_TYPE, CONNECTION, f"closed: {reason}")

    def _on_event(self, sock: int, event: str, args: list[Any], t: float) -> None:
        payload = args[0] if args and isinstance(args[0], dict) else {}
        if event == Event.NEW_MESSAGE:
            message = payload.get("message")
            if isinstance(message, dict):
                self.tracker.delivered(sock, message, t)
        elif event == Event.USER_TYPING:
            key = ("typing", str(payload.get("taskId")), str(payload.get("userId")))
            self.tracker.signal_seen(key, TYPING, t, sock)
        elif event in (Event.USER_JOINED, Event.USER_LEFT):
            key = (event, str(payload.get("taskId")), str(payload.get("userId")))
            self.tracker.signal_seen(key, PRESENCE, t, sock)
        elif event == Event.ERROR:
            self.tracker.error_event(str(payload.get("code")))
        self.on_event(event, args, t)

    # -- requests ----------------------------------------------------------------------------

    def emit(self, event: str, *args: Any) -> bool:
        """A plain emit (no ack, nothing logged); False when the connection is gone."""
        if self.conn is None:
            return False
        try:
            self.conn.emit(event, *args)
        except ClientError:
            return False
        return True

    def call(self, event: str, *args: Any, timeout: float | None = None) -> dict[str, Any] | None:
        """Emit with an ack and log the ack latency as ``<event> ack``.

        Returns the ack object when it says ``ok: true``, else None (logged as a failure with
        the error code, "no ack", or "connection closed").
        """
        name = ack_metric(event)
        if self.conn is None:
            self.record(name, 0, ConnectionClosed("not connected"))
            return None
        start = time.perf_counter()
        try:
            ack = self.conn.call(event, *args, timeout=timeout or self.ack_timeout)
        except ConnectionClosed as exc:
            if not self._leaving_on_purpose:  # a drop the scenario made is not the server's
                self.record(name, _ms(start), ConnectionClosed(f"connection closed: {exc}"))
            return None
        except AckTimeout as exc:
            self.record(name, _ms(start), exc)
            return None
        except ClientError as exc:
            self.record(name, _ms(start), exc)
            return None
        ms = _ms(start)
        result = ack[0] if ack else None
        if isinstance(result, dict) and result.get("ok") is True:
            self.record(name, ms)
            return result
        error = result.get("error") if isinstance(result, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        self.record(name, ms, AckRefused(f"ok: false ({code or result!r})"))
        return None

    def wait_for(self, event: str, predicate: Any = None, timeout: float | None = None) -> Any:
        """Wait for an event that arrives from now on (no event log is kept under load)."""
        if self.conn is None:
            raise ConnectionClosed("not connected")
        return self.conn.wait_for(event, predicate, timeout or self.ack_timeout)

    def join(self, room: str) -> bool:
        self.tracker.signal_sent((Event.USER_JOINED, room, self.user_id), time.monotonic())
        if self.call(Event.JOIN_TASK, room) is None:
            return False
        self.joined_rooms.add(room)
        self.tracker.joined(room, self.sock)
        return True

    def leave(self, room: str) -> bool:
        self.joined_rooms.discard(room)
        self.tracker.left(room, self.sock)
        self.tracker.signal_sent((Event.USER_LEFT, room, self.user_id), time.monotonic())
        return self.call(Event.LEAVE_TASK, room) is not None

    def send_message(self, room: str, text: str, cmid: str | None = None) -> dict[str, Any] | None:
        """Send with a clientMessageId and track its delivery; returns the acked message.

        The returned ack is None when the send failed; ``self.outbox`` then holds the
        clientMessageId for a retry (``retry_unacked``) if no answer came at all.
        """
        if self.tracker.draining:
            return None  # the run is ending: what is sent now could not be followed up
        cmid = cmid or self.tracker.new_message(self.user_key, runtime.process_tag())
        self.tracker.sent(room, self.user_key, cmid)
        payload = {"taskId": room, "message": text_with_marker(text, cmid), "clientMessageId": cmid}
        name = ack_metric(Event.SEND_MESSAGE)
        start = time.perf_counter()
        if self.conn is None:
            self.outbox[cmid] = (room, text)
            return None
        try:
            ack = self.conn.call(Event.SEND_MESSAGE, payload, timeout=self.ack_timeout)
        except ClientError as exc:
            if not (isinstance(exc, ConnectionClosed) and self._leaving_on_purpose):
                self.record(name, _ms(start), exc)
            self.outbox[cmid] = (room, text)  # retried, same clientMessageId, once back
            return None
        ms = _ms(start)
        result = ack[0] if ack else None
        self.outbox.pop(cmid, None)
        if isinstance(result, dict) and result.get("ok") is True:
            self.record(name, ms)
            message = result.get("message")
            message_id = message.get("id") if isinstance(message, dict) else None
            self.tracker.acked(cmid, message_id if isinstance(message_id, str) else None)
            return message if isinstance(message, dict) else {}
        self.tracker.send_failed(cmid)
        error = result.get("error") if isinstance(result, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        self.record(name, ms, AckRefused(f"ok: false ({code or result!r})"))
        return None

    def retry_unacked(self) -> None:
        """Send again, with the same clientMessageId, what got no ack (a retry, not a copy)."""
        for cmid, (room, text) in list(self.outbox.items()):
            if not self.connected:
                return
            self.send_message(room, text, cmid)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
