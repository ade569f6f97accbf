"""Delivery accounting: how long until every member saw a message, and whether every one did.

An emit's ack says the server took the message; it says nothing about the members. This module
follows each message from its send to every socket that was in the room when it was sent. Sender
and receivers of one room always live in the same process (rooms are assigned per process), so
they share one monotonic clock and one registry keyed by clientMessageId.

- delivery latency: send -> each member's ``new_message``; fan-out: send -> the last member.
- loss: a message acked to its sender that a member (joined from the send until the check, and
  still connected) has not received ``grace`` seconds after the send.
- duplicate: the same message twice on one socket, or a second message created for one
  clientMessageId (a retry the server did not recognise).
- reorder: a socket sees one sender's messages out of that sender's send order.

No locust import here: the tracker reports through a ``Sink``, so it can be tested with plain
threads and reused by any harness.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

# Metric names, as Locust's statistics show them (request type "sio").
REQUEST_TYPE = "sio"
CONNECT = "connect+auth"
DELIVERY = "delivery (send to each member)"
FANOUT = "fan-out (send to last member)"
TYPING = "typing indicator (start to others)"
PRESENCE = "presence (join/leave to others)"
CONNECTION = "connection"


def ack_metric(event: str) -> str:
    """The statistics name of an event's ack latency, e.g. ``send_message ack``."""
    return f"{event} ack"


# clientMessageId marker appended to the message text, for servers that do not echo
# client_message_id back in the message object.
_MARK = re.compile(r"\[cm:([A-Za-z0-9_.:-]+)\]\s*$")


def text_with_marker(text: str, cmid: str) -> str:
    return f"{text} [cm:{cmid}]"


def cmid_of(message: dict[str, Any]) -> str | None:
    cmid = message.get("client_message_id")
    if isinstance(cmid, str) and cmid:
        return cmid
    text = message.get("message")
    if isinstance(text, str):
        match = _MARK.search(text)
        if match:
            return match.group(1)
    return None


class Sink(Protocol):
    def sample(self, name: str, ms: float) -> None:
        """One latency sample of the metric ``name``."""

    def failure(self, name: str, message: str) -> None:
        """One counted failure of the metric ``name`` (no latency sample)."""


@dataclass
class Counters:
    """What a run counts; sums across processes (``merge``)."""

    delivered: int = 0  # (message, member) pairs that had to arrive and did
    lost: int = 0
    duplicated: int = 0
    duplicate_created: int = 0  # of ``duplicated``: a second message for one clientMessageId
    reordered: int = 0
    acked: int = 0
    unacked: int = 0  # sends whose ack never came (never counted as loss)
    disconnects: int = 0  # connections that closed without the user asking
    planned_drops: int = 0  # connections the scenario dropped on purpose (reconnect storm)
    reconnects: int = 0
    reconnect_failures: int = 0
    setup_failures: int = 0  # users that stopped because their rooms or identity could not be made
    errors_by_code: dict[str, int] = field(default_factory=dict)

    @property
    def loss_rate(self) -> float:
        """Lost among the (message, member) pairs that had to arrive."""
        owed = self.delivered + self.lost
        return self.lost / owed if owed else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["errors_by_code"] = dict(self.errors_by_code)
        return out

    def merge(self, other: dict[str, Any]) -> None:
        for key, value in other.items():
            if key == "errors_by_code":
                for code, n in value.items():
                    self.errors_by_code[code] = self.errors_by_code.get(code, 0) + int(n)
            elif hasattr(self, key):
                setattr(self, key, getattr(self, key) + int(value))

    @classmethod
    def total(cls, parts: Iterable[dict[str, Any]]) -> Counters:
        out = cls()
        for part in parts:
            out.merge(part)
        return out


def _native_lock() -> threading.Lock:
    """A real lock even under gevent's monkey-patching.

    The tracker is called for every received message, inside gevent's event loop; gevent's
    cooperative lock costs several times a native one, and no critical section here can
    switch greenlets (no I/O, no sleep), so a native lock never blocks the loop for long.
    """
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        allocate: Any = monkey.get_original("_thread", "allocate_lock")
        return allocate()  # type: ignore[no-any-return]
    return threading.Lock()


class _Sent:
    __slots__ = ("acked", "message_id", "pending", "room", "seen", "sender", "seq", "t_sent")

    def __init__(self, room: str, sender: int, seq: int, t_sent: float, expected: set[int]):
        self.room = room
        self.sender = sender
        self.seq = seq
        self.t_sent = t_sent
        self.pending = expected
        self.seen: set[int] = set()
        self.acked = False
        self.message_id: str | None = None


class DeliveryTracker:
    """One per process. Thread-safe (plain threads in tests, greenlets under Locust)."""

    def __init__(self, sink: Sink, *, grace: float = 3.0, ack_timeout: float = 30.0) -> None:
        self.sink = sink
        self.grace = grace
        self.ack_timeout = ack_timeout
        self.counters = Counters()
        self.draining = False  # set at the end of a run: scenarios stop sending
        self.closed = False  # after the final sweep: nothing new is tracked
        self._lock = _native_lock()
        self._rooms: dict[str, set[int]] = {}
        self._sock_rooms: dict[int, set[str]] = {}
        self._sent: dict[str, _Sent] = {}
        self._last_seq: dict[tuple[int, int], int] = {}
        self._signals: dict[tuple[str, ...], tuple[float, set[int]]] = {}
        self._next_sock = 0
        self._next_seq: dict[int, int] = {}

    # -- sockets and rooms ------------------------------------------------------------------

    def new_socket(self) -> int:
        with self._lock:
            self._next_sock += 1
            return self._next_sock

    def joined(self, room: str, sock: int) -> None:
        with self._lock:
            self._rooms.setdefault(room, set()).add(sock)
            self._sock_rooms.setdefault(sock, set()).add(room)

    def left(self, room: str, sock: int) -> None:
        """The socket is no longer in the room: it no longer owes the room's messages."""
        with self._lock:
            self._leave(room, sock)

    def _leave(self, room: str, sock: int) -> None:
        members = self._rooms.get(room)
        if members is not None:
            members.discard(sock)
            if not members:
                del self._rooms[room]
        rooms = self._sock_rooms.get(sock)
        if rooms is not None:
            rooms.discard(room)
        for record in self._sent.values():
            if record.room == room:
                record.pending.discard(sock)

    def gone(self, sock: int) -> None:
        """The socket closed: it leaves every room and its ordering state is forgotten."""
        with self._lock:
            for room in list(self._sock_rooms.pop(sock, ())):
                self._leave(room, sock)
            for key in [k for k in self._last_seq if k[0] == sock]:
                del self._last_seq[key]

    def members(self, room: str) -> int:
        with self._lock:
            return len(self._rooms.get(room, ()))

    # -- messages ---------------------------------------------------------------------------

    def new_message(self, sender: int, tag: str) -> str:
        """A fresh clientMessageId of ``sender`` (a user key, stable across reconnects)."""
        with self._lock:
            seq = self._next_seq.get(sender, 0) + 1
            self._next_seq[sender] = seq
        return f"{tag}-{sender}-{seq}"

    def sent(self, room: str, sender: int, cmid: str, t: float | None = None) -> None:
        """Call just before emitting. A retry of a known clientMessageId keeps the original
        send time and the members expected then: a retry the server recognises broadcasts
        nothing new.
        """
        now = time.monotonic() if t is None else t
        seq = int(cmid.rsplit("-", 1)[1])
        with self._lock:
            if cmid in self._sent or self.closed:
                return
            expected = set(self._rooms.get(room, ()))
            self._sent[cmid] = _Sent(room, sender, seq, now, expected)

    def acked(self, cmid: str, message_id: str | None) -> None:
        with self._lock:
            record = self._sent.get(cmid)
            if record is None:
                return
            if not record.acked:
                record.acked = True
                self.counters.acked += 1
            if message_id is None:
                return
            if record.message_id is None:
                record.message_id = message_id
            elif record.message_id != message_id:
                self.counters.duplicated += 1
                self.counters.duplicate_created += 1
                self.sink.failure(DELIVERY, "duplicate: a second message for one clientMessageId")

    def send_failed(self, cmid: str) -> None:
        """The server refused the send (ok: false): nobody owes it."""
        with self._lock:
            self._sent.pop(cmid, None)

    def delivered(self, sock: int, message: dict[str, Any], t: float) -> None:
        """A ``new_message`` arrived on ``sock``."""
        cmid = cmid_of(message)
        if cmid is None:
            return
        message_id = message.get("id")
        fanout_ms: float | None = None
        with self._lock:
            record = self._sent.get(cmid)
            if record is None:
                return
            if isinstance(message_id, str):
                if record.message_id is None:
                    record.message_id = message_id
                elif record.message_id != message_id:
                    self.counters.duplicated += 1
                    self.counters.duplicate_created += 1
                    self.sink.failure(
                        DELIVERY, "duplicate: a second message for one clientMessageId"
                    )
                    return
            if sock in record.seen:
                self.counters.duplicated += 1
                self.sink.failure(DELIVERY, "duplicate: same message twice on one socket")
                return
            record.seen.add(sock)
            order_key = (sock, record.sender)
            last = self._last_seq.get(order_key, 0)
            if record.seq < last:
                self.counters.reordered += 1
                self.sink.failure(DELIVERY, "out of order: a sender's messages swapped")
            else:
                self._last_seq[order_key] = record.seq
            latency_ms = (t - record.t_sent) * 1000.0
            if sock in record.pending:
                record.pending.discard(sock)
                self.counters.delivered += 1
                if not record.pending:
                    fanout_ms = latency_ms
        self.sink.sample(DELIVERY, latency_ms)
        if fanout_ms is not None:
            self.sink.sample(FANOUT, fanout_ms)

    def pending(self) -> int:
        """(message, member) pairs still owed by acked messages."""
        with self._lock:
            return sum(len(r.pending) for r in self._sent.values() if r.acked)

    def wait_delivered(self, timeout: float) -> bool:
        """Wait until acked messages owe nothing (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if not any(r.pending for r in self._sent.values() if r.acked):
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(remaining, 0.05))  # polls: the lock is never held while waiting

    def sweep(self, now: float | None = None, *, final: bool = False) -> int:
        """Count what is overdue as lost (acked) or unacked, and forget old records.

        Returns the number of losses counted by this sweep.
        """
        now = time.monotonic() if now is None else now
        lost = 0
        lost_records: list[int] = []
        with self._lock:
            for cmid, record in list(self._sent.items()):
                age = now - record.t_sent
                if record.acked and (final or age > self.grace):
                    if record.pending:
                        lost_records.append(len(record.pending))
                        lost += len(record.pending)
                    del self._sent[cmid]
                elif not record.acked and (final or age > self.grace + self.ack_timeout):
                    self.counters.unacked += 1
                    del self._sent[cmid]
            self.counters.lost += lost
            if final:
                self.closed = True
            for key, (t, _) in list(self._signals.items()):
                if final or now - t > self.grace:
                    del self._signals[key]
        for count in lost_records:
            for _ in range(count):
                self.sink.failure(
                    DELIVERY, f"lost: acked, not received by a member within {self.grace:g} s"
                )
        return lost

    # -- typing and presence ----------------------------------------------------------------

    def signal_sent(self, key: tuple[str, ...], t: float) -> None:
        """A state change others should see (typing started, a user joined...)."""
        with self._lock:
            self._signals[key] = (t, set())

    def signal_cleared(self, key: tuple[str, ...]) -> None:
        with self._lock:
            self._signals.pop(key, None)

    def signal_seen(self, key: tuple[str, ...], name: str, t: float, sock: int) -> None:
        """A socket saw the change: one sample per socket and change."""
        with self._lock:
            signal = self._signals.get(key)
            if signal is None or sock in signal[1]:
                return
            signal[1].add(sock)
        self.sink.sample(name, (t - signal[0]) * 1000.0)

    # -- everything else --------------------------------------------------------------------

    def error_event(self, code: str) -> None:
        with self._lock:
            self.counters.errors_by_code[code] = self.counters.errors_by_code.get(code, 0) + 1

    def count(self, counter: str, n: int = 1) -> None:
        with self._lock:
            setattr(self.counters, counter, getattr(self.counters, counter) + n)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self.counters.to_dict()
