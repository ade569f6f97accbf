"""What the chat rules ask their caller to do, in the order the caller must do it.

The rules never touch a socket or the database: each input returns a list of these. The caller
runs the writes, waits for their commit, then performs the emits and the reply in list order.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Emit:
    """Send ``event`` with one ``payload`` argument to the sockets ``to`` (encoded once)."""

    event: str
    payload: object
    to: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reply:
    """Answer the ack of the request being handled (dropped when the client asked for none)."""

    payload: dict[str, object]


@dataclass(frozen=True, slots=True)
class PutMessage:
    """Insert or replace a message row: the full wire object, tombstone fields included."""

    message: dict[str, object]


@dataclass(frozen=True, slots=True)
class PutTask:
    task_id: str
    title: str
    data: dict[str, object]


@dataclass(frozen=True, slots=True)
class PutMember:
    task_id: str
    user_id: str
    user_name: str
    role: str


@dataclass(frozen=True, slots=True)
class DeleteMember:
    task_id: str
    user_id: str


Write = PutMessage | PutTask | PutMember | DeleteMember
Effect = Emit | Reply | Write
WRITE_TYPES = (PutMessage, PutTask, PutMember, DeleteMember)
