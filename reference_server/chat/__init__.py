"""The chat application's rules, free of I/O (see ``rules.py`` for how they get their data)."""

from taskchat.reference_server.chat.effects import (
    WRITE_TYPES,
    DeleteMember,
    Effect,
    Emit,
    PutMember,
    PutMessage,
    PutTask,
    Reply,
    Write,
)
from taskchat.reference_server.chat.model import Identity, Member, Task, iso
from taskchat.reference_server.chat.rules import ChatError, ChatRules, MessageLookup

__all__ = [
    "WRITE_TYPES",
    "ChatError",
    "ChatRules",
    "DeleteMember",
    "Effect",
    "Emit",
    "Identity",
    "Member",
    "MessageLookup",
    "PutMember",
    "PutMessage",
    "PutTask",
    "Reply",
    "Task",
    "Write",
    "iso",
]
