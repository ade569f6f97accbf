"""The Locust user of the built-in scenarios: one person, one identity, one scenario."""

from __future__ import annotations

import logging
import time
from typing import Any

from locust import constant, task
from locust.exception import StopUser
from taskchat.loadtests import runtime, scenarios
from taskchat.loadtests.provision import Identity, Provisioner
from taskchat.loadtests.user import SocketIOUser

from taskchat.client.config import ConfigError
from taskchat.client.control import ControlError

log = logging.getLogger("taskchat.load")


class ChatUser(SocketIOUser):
    """Which scenario it plays comes from the start form / ``--scenario``."""

    wait_time = constant(0)  # scenarios pace themselves

    def on_start(self) -> None:
        settings = runtime.Settings.of(self.environment)
        try:
            self.provisioner: Provisioner = runtime.provisioner(self.environment)
        except (ConfigError, ControlError) as exc:
            self.environment.stats.log_error("setup", "target", str(exc))
            log.error("cannot set up the load run: %s", exc)
            raise StopUser() from None
        self.number = self.provisioner.next_user_number()
        self.identity: Identity = self.provisioner.identity(self.number)
        self.user_id = self.identity.user_id
        self.scenario = scenarios.load(settings.scenario)(self, settings)
        try:
            self.scenario.start()
        except ControlError as exc:
            self.environment.stats.log_error("setup", "rooms and members", str(exc))
            log.error("cannot create rooms and members: %s", exc)
            raise StopUser() from None

    def room(self, index: int) -> str:
        """Room ``index`` of this process, with this user as a member."""
        room = self.provisioner.room(index)
        self.provisioner.add_member(room, self.identity)
        return room

    def auth(self) -> dict[str, Any]:
        return {"token": self.identity.token}

    def on_event(self, event: str, args: list[Any], t: float) -> None:
        self.scenario.on_event(event, args, t)

    @task
    def take_a_turn(self) -> None:
        if self.tracker.draining:
            time.sleep(0.5)
            return
        self.scenario.step()
