"""Each delivery counter counts: servers that drop, duplicate, reorder or forget
clientMessageIds are caught, and a healthy server shows none of it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

import pytest
from load_chat_server import ChatServer, running_chat_server
from taskchat.loadtests.delivery import DELIVERY, FANOUT, DeliveryTracker, text_with_marker
from taskchat.schemas import Event

from taskchat.client import Connection
from taskchat.client.tokens import mint_token

SECRET = "load-test-secret-of-at-least-32-bytes"
ROOM = "room-1"


@dataclass
class Sink:
    samples: dict[str, list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sample(self, name: str, ms: float) -> None:
        with self.lock:
            self.samples.setdefault(name, []).append(ms)

    def failure(self, name: str, message: str) -> None:
        with self.lock:
            self.failures.append(message)


@dataclass
class Member:
    conn: Connection
    sock: int
    user_key: int


@contextmanager
def room_of(server: ChatServer, tracker: DeliveryTracker, n: int) -> Iterator[list[Member]]:
    """``n`` users, each connected and joined to ROOM, feeding the tracker."""
    server.tasks[ROOM] = {f"u{i}" for i in range(n)}
    with ExitStack() as stack:
        members = []
        for i in range(n):
            sock = tracker.new_socket()

            def on_event(event: str, args: list, t: float, sock: int = sock) -> None:
                if event == Event.NEW_MESSAGE:
                    tracker.delivered(sock, args[0]["message"], t)

            token = mint_token(SECRET, f"u{i}", name=f"User {i}")
            conn = stack.enter_context(
                Connection(server.url, {"token": token}, on_event=on_event, keep_received=False)
            )
            assert conn.call(Event.JOIN_TASK, ROOM)[0]["ok"] is True
            tracker.joined(ROOM, sock)
            members.append(Member(conn, sock, tracker.new_socket()))
        yield members


def send(tracker: DeliveryTracker, sender: Member, text: str, cmid: str | None = None) -> str:
    cmid = cmid or tracker.new_message(sender.user_key, "t")
    tracker.sent(ROOM, sender.user_key, cmid)
    payload = {"taskId": ROOM, "message": text_with_marker(text, cmid), "clientMessageId": cmid}
    ack = sender.conn.call(Event.SEND_MESSAGE, payload)[0]
    assert ack["ok"] is True
    tracker.acked(cmid, ack["message"]["id"])
    return cmid


def settle(tracker: DeliveryTracker, members: list[Member]) -> None:
    """A barrier: one more message from each member, received by all, then a final sweep."""
    for member in members:
        send(tracker, member, "barrier")
    tracker.wait_delivered(1.0)
    tracker.sweep(final=True)


def run(fault: str | None, messages: int = 6, members: int = 3) -> tuple[DeliveryTracker, Sink]:
    sink = Sink()
    tracker = DeliveryTracker(sink, grace=5.0)
    with running_chat_server(SECRET, fault) as server, room_of(server, tracker, members) as room:
        for i in range(messages):
            send(tracker, room[0], f"hello {i}")
        settle(tracker, room)
    return tracker, sink


def test_healthy_server_delivers_everything_once_and_in_order() -> None:
    tracker, sink = run(None)
    c = tracker.counters
    assert (c.lost, c.duplicated, c.reordered, c.unacked) == (0, 0, 0, 0)
    assert c.delivered == (6 + 3) * 3  # every message to every member, the sender included
    assert len(sink.samples[DELIVERY]) == c.delivered
    assert len(sink.samples[FANOUT]) == 6 + 3
    assert sink.failures == []


def test_dropped_deliveries_are_counted_as_lost() -> None:
    tracker, sink = run("drop")
    # the server skips one member on every second send: 9 sends -> 4 skipped
    assert tracker.counters.lost == 4
    assert tracker.counters.duplicated == 0
    assert sum("lost" in f for f in sink.failures) == 4


def test_duplicated_deliveries_are_counted() -> None:
    tracker, _ = run("duplicate")
    # every second send goes out twice, to each of the 3 members
    assert tracker.counters.duplicated == 4 * 3
    assert tracker.counters.lost == 0


def test_reordered_deliveries_are_counted() -> None:
    tracker, _ = run("reorder", messages=4, members=2)
    # the sender's messages arrive pairwise swapped, at both members
    assert tracker.counters.reordered >= 2
    assert tracker.counters.duplicated == 0


# a second message for one clientMessageId shows in the sender's ack and at each member: 1 + 2
@pytest.mark.parametrize(("fault", "created"), [(None, 0), ("no_dedupe", 3)])
def test_a_retry_the_server_does_not_recognise_is_a_duplicate(
    fault: str | None, created: int
) -> None:
    sink = Sink()
    tracker = DeliveryTracker(sink, grace=5.0)
    with running_chat_server(SECRET, fault) as server, room_of(server, tracker, 2) as room:
        cmid = send(tracker, room[0], "once")
        send(tracker, room[0], "once", cmid=cmid)  # a retry after a lost ack
        settle(tracker, room)
    assert tracker.counters.duplicate_created == created
