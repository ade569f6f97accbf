"""The values the chat rules reason about: who is asking, what a role allows, how time is written.

Kept apart from the rules so that ``auth.py`` can build an ``Identity`` without importing the
state machine, and the store can format times the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from taskchat.schemas.validation import load_schema


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified user, as the token describes them (CONTRACT §2, §10)."""

    user_id: str
    name: str  # the display name: userName on the wire
    first_name: str
    last_name: str
    avatar_url: str | None = None
    admin: bool = False


# The role table of CONTRACT §4. The role names come from defs/role.json; the checks below fail
# at import if the schema and this table ever disagree.
ROLES: tuple[str, ...] = tuple(load_schema("defs/role.json")["enum"])
CAN_COMMENT: frozenset[str] = frozenset({"owner", "admin", "member"})  # send, edit own, type
CAN_DELETE_OWN: frozenset[str] = frozenset({"owner", "admin", "member"})
CAN_DELETE_OTHERS: frozenset[str] = frozenset({"owner", "admin"})
if not set(ROLES) >= CAN_COMMENT | CAN_DELETE_OWN | CAN_DELETE_OTHERS:
    raise ImportError("the role table names a role that defs/role.json does not")


# The message object on the wire (CONTRACT §3): exactly the fields defs/message.json requires.
# The stored row adds the tombstone fields (is_deleted, deleted_at), which only history shows.
MESSAGE_FIELDS: tuple[str, ...] = tuple(load_schema("defs/message.json")["required"])


def wire_message(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored message as the socket side sends it: the contract's fields, nothing more (a
    reference server is conservative in what it sends). A deleted message exists only as a
    tombstone (D50): blanked, with ``is_deleted`` and ``deleted_at``, as history shows it."""
    out = {name: stored.get(name) for name in MESSAGE_FIELDS}
    if stored.get("is_deleted"):
        out["message"] = ""
        out["attachments"] = []
        out["is_deleted"] = True
        out["deleted_at"] = stored.get("deleted_at")
    return out


@dataclass(slots=True)
class Member:
    user_id: str
    user_name: str
    role: str

    def wire(self) -> dict[str, str]:
        return {"userId": self.user_id, "userName": self.user_name, "role": self.role}


@dataclass(slots=True)
class Task:
    task_id: str
    title: str
    data: dict[str, object] = field(default_factory=dict)  # fields set by PATCH beyond the title
    members: dict[str, Member] = field(default_factory=dict)


def iso(ts: float) -> str:
    """UTC with milliseconds and a ``Z`` (D3): ``2026-11-25T20:29:29.123Z``."""
    ms = round(ts * 1000)
    secs, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{millis:03d}Z"
