"""Many small rooms: one-to-one task chats, the common case."""

from __future__ import annotations

from taskchat.loadtests.scenarios.task_chat import TaskChat


class SmallRooms(TaskChat):
    users_per_room = 2
    message_rate = 4.0
