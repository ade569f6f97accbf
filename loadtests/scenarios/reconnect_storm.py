"""Every connection dropped at once, and everyone coming back: does anything get lost or doubled?

Senders keep a clientMessageId on every message and retry what got no ack after they are back,
as a careful client does; the server must not create a second message for a retry (CONTRACT §5),
and what it acked must reach every member that stayed joined.
"""

from __future__ import annotations

import time
import weakref

import gevent
from taskchat.loadtests.scenarios.base import Scenario

_STORMERS: weakref.WeakSet[ReconnectStorm] = weakref.WeakSet()
_STORM: list[gevent.Greenlet] = []


class ReconnectStorm(Scenario):
    users_per_room = 5
    message_rate = 12.0

    def start(self) -> None:
        super().start()
        _STORMERS.add(self)
        if not _STORM:
            _STORM.append(gevent.spawn(_storms, self.settings.storm_every, self.user.tracker))

    def step(self) -> None:
        conn = self.user.conn
        if conn is not None and conn.connected:
            conn.closed.wait(self.gap())  # a dropped connection wakes its user at once
        else:
            self.pause(self.gap())
        if self.user.tracker.draining or not self.back_online():
            return
        self.user.send_message(self.home, self.sentence())
        if not self.user.connected:
            self.back_online()  # dropped while sending: come back and retry with the same id


def _storms(every: float, tracker: object) -> None:
    """Drop every connection of this process at once, every ``every`` seconds (wall clock, so
    the processes of one run storm together)."""
    while not getattr(tracker, "draining", False):
        time.sleep(every - time.time() % every)
        if getattr(tracker, "draining", False):
            return
        for scenario in list(_STORMERS):
            scenario.user.drop()
