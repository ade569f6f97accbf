"""People moving between task views: join and leave rooms, and now and then reconnect."""

from __future__ import annotations

import random

from taskchat.loadtests.scenarios.base import Scenario


class PresenceChurn(Scenario):
    """Each person is a member of ``rooms`` task rooms (default 3) shared with a group of
    ``users_per_room``; a turn switches to another room (leave, join), reconnects, or stays.
    Others measure how long until they see ``user_joined`` / ``user_left``."""

    users_per_room = 10
    rooms_per_user = 3
    weights: dict[str, float] = {"switch room": 0.6, "reconnect": 0.1, "stay": 0.3}
    turn = (2.0, 5.0)  # seconds between turns

    def start(self) -> None:
        count = self.settings.rooms or self.rooms_per_user
        group = self.room_index()
        self.choices = [self.user.room(group * count + i) for i in range(count)]
        self.home = random.choice(self.choices)
        self.user.connect() and self.user.join(self.home)

    def step(self) -> None:
        self.pause(random.uniform(*self.turn))
        if self.user.tracker.draining or not self.back_online():
            return
        action = random.choices(list(self.weights), weights=list(self.weights.values()))[0]
        if action == "switch room" and len(self.choices) > 1:
            self.user.leave(self.home)
            self.home = random.choice([r for r in self.choices if r != self.home])
            self.user.join(self.home)
        elif action == "reconnect":
            self.user.reconnect()
