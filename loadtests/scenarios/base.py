"""What every scenario shares: a person with a home room, and pacing."""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskchat.loadtests.chat_user import ChatUser
    from taskchat.loadtests.runtime import Settings

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


class Scenario:
    """One simulated person's behaviour; ``step()`` is one turn, paced by the scenario itself.

    Class attributes are the defaults; the start form (or ``taskchat load``) overrides
    ``users_per_room`` and ``message_rate``. Defaults keep every user well below the reference
    server's default rate limit (D20: 20 sends per 10 s per user).
    """

    users_per_room: int = 5
    message_rate: float = 4.0  # messages per minute per user

    def __init__(self, user: ChatUser, settings: Settings) -> None:
        self.user = user
        self.settings = settings
        self.users_per_room = settings.users_per_room or self.users_per_room
        self.message_rate = settings.message_rate or self.message_rate
        self.home: str = ""

    # -- the person's day ---------------------------------------------------------------------

    def start(self) -> None:
        """Become a member of the home room, connect and join it."""
        self.home = self.user.room(self.room_index())
        self.user.connect() and self.user.join(self.home)

    def step(self) -> None:
        raise NotImplementedError

    def on_event(self, event: str, args: list[Any], t: float) -> None:
        """Events as they arrive; reading is passive, the tracker measures deliveries."""

    # -- helpers ------------------------------------------------------------------------------

    def room_index(self) -> int:
        return self.user.number // max(1, self.users_per_room)

    def gap(self) -> float:
        """Seconds until this person's next message (Poisson, mean 60/rate, bounded)."""
        mean = 60.0 / max(self.message_rate, 0.01)
        return min(random.expovariate(1.0 / mean), 4 * mean)

    @staticmethod
    def pause(seconds: float) -> None:
        time.sleep(max(0.0, seconds))

    @staticmethod
    def sentence() -> str:
        return " ".join(random.choices(WORDS, k=random.randint(3, 9)))

    def back_online(self) -> bool:
        """Reconnect if the connection is gone; True when connected."""
        if self.user.connected:
            return True
        if self.user.reconnect():
            self.user.retry_unacked()
            return True
        return False
