"""People moving between task views: join and leave rooms, and now and then reconnect."""

from __future__ import annotations

import random

from locust import between, task
from taskchat.loadtests import runtime
from taskchat.loadtests.scenarios.base import ChatUser


class PresenceChurn(ChatUser):
    """Each person is a member of ``rooms`` task rooms shared with a group of
    ``users_per_room``; a turn switches to another room (leave, join), reconnects, or stays.
    Others measure how long until they see ``user_joined`` / ``user_left``."""

    users_per_room = 10
    rooms = 3
    parameters = ("users_per_room", "rooms")
    wait_time = between(2.0, 5.0)

    def arrive(self) -> None:
        count = int(runtime.Settings.of(self.environment).rooms or self.rooms)
        group = self.number // max(1, self.users_per_room)
        self.choices = [self.room(group * count + i) for i in range(count)]
        self.home = random.choice(self.choices)
        self.connect() and self.join(self.home)

    @task(6)
    def switch_room(self) -> None:
        if self.ready() and len(self.choices) > 1:
            self.leave(self.home)
            self.home = random.choice([r for r in self.choices if r != self.home])
            self.join(self.home)

    @task(1)
    def reconnect_now(self) -> None:
        if self.ready():
            self.reconnect()

    @task(3)
    def stay(self) -> None:
        self.ready()
