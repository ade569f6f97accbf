"""One room, many members: how long until the last one sees a message (fan-out)."""

from __future__ import annotations

from taskchat.loadtests.scenarios.task_chat import TaskChat


class BigRoom(TaskChat):
    """Everyone of a process in one room (or rooms of ``users_per_room``), writing rarely:
    each message goes to every member, so the server's work grows with members squared."""

    users_per_room = 100_000
    message_rate = 1.0
    keystrokes_max = 3
    tasks = [TaskChat.write]  # no edits or deletes: fan-out of new messages only
