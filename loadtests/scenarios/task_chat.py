"""People chatting in a task's room, as the seed's React client behaves."""

from __future__ import annotations

import random
import time

from locust import task
from taskchat.loadtests.scenarios.base import ChatUser
from taskchat.schemas import Event

TYPING_STOP_AFTER = 3.0  # the seed's client sends typing_stop 3 s after the last keystroke


class TaskChat(ChatUser):
    """Join the task's room; type (typing_start on keystrokes, typing_stop after a 3 s pause),
    send; now and then edit or delete one's own message; read what the others send."""

    users_per_room = 5
    message_rate = 4.0
    keystrokes_max = 12
    keystroke_gap = (0.08, 0.25)  # seconds between keystrokes
    hesitate_chance = 0.15  # a pause longer than 3 s while typing

    def on_start(self) -> None:
        self.own: list[tuple[str, str]] = []  # (room, message id) of this person's messages
        self.typing = False
        super().on_start()

    @task(85)
    def write(self) -> None:
        if not self.ready():
            return
        text = self.sentence()
        self.type_out(text)
        message = self.send_message(self.home, text)
        self.stopped_typing(announce=False)  # the server stops the indicator on send
        if message and isinstance(message.get("id"), str):
            self.own = [*self.own[-4:], (self.home, message["id"])]

    @task(10)
    def edit_own(self) -> None:
        if not self.own:
            return self.write()
        if self.ready():
            room, message_id = random.choice(self.own)
            payload = {"taskId": room, "messageId": message_id, "newMessage": self.sentence()}
            self.call(Event.EDIT_MESSAGE, payload)

    @task(5)
    def delete_own(self) -> None:
        if not self.own:
            return self.write()
        if self.ready():
            room, message_id = self.own.pop(random.randrange(len(self.own)))
            self.call(Event.DELETE_MESSAGE, {"taskId": room, "messageId": message_id})

    def type_out(self, text: str) -> None:
        """typing_start on every keystroke, as the seed's ``handleTyping`` does."""
        for i in range(min(len(text), self.keystrokes_max)):
            if not self.typing:
                self.typing = True
                self.tracker.signal_sent(("typing", self.home, self.user_id), time.monotonic())
            self.emit(Event.TYPING_START, {"taskId": self.home})
            self.pause(random.uniform(*self.keystroke_gap))
            if i == 2 and random.random() < self.hesitate_chance:
                self.pause(TYPING_STOP_AFTER)
                self.stopped_typing(announce=True)

    def stopped_typing(self, *, announce: bool) -> None:
        if self.typing:
            self.typing = False
            self.tracker.signal_cleared(("typing", self.home, self.user_id))
            if announce:
                self.emit(Event.TYPING_STOP, {"taskId": self.home})
