"""Every connection dropped at once, and everyone coming back: does anything get lost or doubled?

Senders keep a clientMessageId on every message and retry what got no ack after they are back,
as a careful client does; the server must not create a second message for a retry (CONTRACT §5),
and what it acked must reach every member that stayed joined.
"""

from __future__ import annotations

import time
import weakref

import gevent
from locust import task
from taskchat.loadtests import runtime
from taskchat.loadtests.delivery import DeliveryTracker
from taskchat.loadtests.scenarios.base import ChatUser

_STORMERS: weakref.WeakSet[ReconnectStorm] = weakref.WeakSet()
_STORM: list[gevent.Greenlet] = []


class ReconnectStorm(ChatUser):
    """Every ``storm_every`` seconds every connection of the process drops; each person comes
    back on their next turn (jittered exponential backoff), rejoins, retries unacked sends."""

    users_per_room = 5
    message_rate = 12.0
    storm_every = 15.0
    parameters = ("users_per_room", "message_rate", "storm_every")

    def arrive(self) -> None:
        super().arrive()
        _STORMERS.add(self)
        if not _STORM:
            every = float(runtime.Settings.of(self.environment).storm_every or self.storm_every)
            _STORM.append(gevent.spawn(_storms, every, self.tracker))

    @task
    def send(self) -> None:
        if not self.ready():
            return
        self.send_message(self.home, self.sentence())
        if not self.connected:
            self.ready()  # dropped while sending: come back and retry with the same id


def _storms(every: float, tracker: DeliveryTracker) -> None:
    """Drop every connection of this process at once, every ``every`` seconds (wall clock, so
    the processes of one run storm together)."""
    while not tracker.draining:
        time.sleep(every - time.time() % every)
        if tracker.draining:
            break
        for user in list(_STORMERS):
            user.drop()
    _STORM.clear()
