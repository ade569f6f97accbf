"""The person every built-in scenario builds on: a provisioned identity, a home room, pacing.

A scenario is a Locust ``User`` subclass of ``ChatUser``: its behaviour is ``@task`` methods with
weights, its pacing ``wait_time``. Its parameters are class attributes listed in ``parameters``:
Locust's class picker shows and edits them (``json()``), and ``taskchat load`` / the locustfile's
``--users-per-room``, ``--message-rate``, ``--rooms``, ``--storm-every`` override them for a run.
"""

from __future__ import annotations

import random
import time
from typing import Any, ClassVar

from locust.exception import StopUser
from taskchat.loadtests import runtime
from taskchat.loadtests.provision import Identity, Provisioner
from taskchat.loadtests.user import SocketIOUser

from taskchat.client.config import ConfigError
from taskchat.client.control import ControlError

WORDS = [
    "ok",
    "done",
    "review",
    "the",
    "draft",
    "deploy",
    "tomorrow",
    "can",
    "you",
    "check",
    "the",
    "numbers",
    "looks",
    "good",
    "to",
    "me",
    "blocked",
    "on",
    "the",
    "api",
    "merged",
    "thanks",
    "see",
    "comment",
    "above",
    "who",
    "owns",
    "this",
    "let",
    "us",
    "sync",
    "at",
    "three",
]


class ChatUser(SocketIOUser):
    """One person of a task chat. Defaults keep every user well below the reference server's
    rate limit (D20: 20 sends per 10 s per user)."""

    abstract = True
    users_per_room: int = 5
    message_rate: float = 4.0  # turns (mostly messages) per minute
    # the class attributes a planner may change per scenario (class picker, command line)
    parameters: ClassVar[tuple[str, ...]] = ("users_per_room", "message_rate")

    @classmethod
    def json(cls) -> dict[str, Any]:
        """What Locust's class picker shows and lets the planner edit, parameters included."""
        out: dict[str, Any] = dict(super().json())
        out.pop("host", None)  # the run's Host field decides; a per-class host would be ignored
        for name in cls.parameters:
            out[name] = getattr(cls, name)
        return out

    def wait_time(self) -> float:
        """Seconds until this person's next turn (Poisson, mean 60/rate, bounded)."""
        mean = 60.0 / max(self.message_rate, 0.01)
        return min(random.expovariate(1.0 / mean), 4 * mean)

    def on_start(self) -> None:
        settings = runtime.Settings.of(self.environment)
        # the class picker sets attributes as the form sent them; the command line wins
        self.users_per_room = int(settings.users_per_room or self.users_per_room)
        self.message_rate = float(settings.message_rate or self.message_rate)
        try:
            self.provisioner: Provisioner = runtime.provisioner(self.environment)
        except (ConfigError, ControlError) as exc:
            runtime.setup_failed(self.environment, "target", exc)
            raise StopUser() from None
        kind = type(self).__name__
        self.number = self.provisioner.next_user_number(kind)
        self.identity: Identity = self.provisioner.identity(self.number, kind)
        self.user_id = self.identity.user_id
        try:
            self.arrive()
        except ControlError as exc:
            runtime.setup_failed(self.environment, "rooms and members", exc)
            raise StopUser() from None

    def arrive(self) -> None:
        """Become a member of the home room, connect and join it."""
        self.home = self.room(self.number // max(1, self.users_per_room))
        self.connect() and self.join(self.home)

    def auth(self) -> dict[str, Any]:
        return {"token": self.identity.token}

    # -- helpers ------------------------------------------------------------------------------

    def room(self, index: int) -> str:
        """Room ``index`` of this scenario in this process, with this user as a member."""
        room = self.provisioner.room(f"{type(self).__name__}-{index}")
        self.provisioner.add_member(room, self.identity)
        return room

    def ready(self) -> bool:
        """True when this turn can act: the run is not ending and the user is (back) online."""
        if self.tracker.draining:
            return False
        if self.connected:
            return True
        if self.reconnect():
            self.retry_unacked()
            return True
        return False

    @staticmethod
    def pause(seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    @staticmethod
    def sentence() -> str:
        return " ".join(random.choices(WORDS, k=random.randint(3, 9)))
