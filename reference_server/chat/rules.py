"""The chat rules of CONTRACT §4-§7 and §10 as a sans-IO state machine.

Inputs are plain method calls — a socket connected or disconnected, a client event arrived, an
admin operation, time passed — each with ``now`` (seconds since the epoch) passed in. Each returns
a list of effects (``effects.py``) for the caller to run in order: store writes first, then, once
they are committed, the emits and the reply. Nothing here does I/O or reads a clock.

Where the data lives:

* Tasks and their members are held here, in memory: the caller loads them from the store at start
  (``ChatRules(tasks=...)``) and every change goes through an admin method that returns the write.
  Membership is therefore checked without a lookup, and a change is in force for the next input.
* Messages are not held here. The rules read them through ``MessageLookup``, a small synchronous
  interface the caller supplies. The caller must make each ``PutMessage`` visible to that lookup
  as soon as it runs the write (before its commit), so that a retry or an edit arriving while the
  commit is in flight sees it. The store does this with an overlay of pending rows.
* Rooms, presence, typing deadlines and rate-limit windows are volatile, and live here only.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, Protocol

from jsonschema.exceptions import best_match
from taskchat.reference_server.chat.effects import (
    DeleteMember,
    Effect,
    Emit,
    PutMember,
    PutMessage,
    PutTask,
    Reply,
)
from taskchat.reference_server.chat.model import (
    CAN_COMMENT,
    CAN_DELETE_OTHERS,
    CAN_DELETE_OWN,
    Identity,
    Member,
    Task,
    iso,
    wire_message,
)
from taskchat.reference_server.chat.validators import fast_accept, fast_validator, invalid_text
from taskchat.schemas import ErrorCode, Event
from taskchat.schemas.protocol import Direction, events
from taskchat.schemas.validation import schema_for


class MessageLookup(Protocol):
    """The rules' only window on stored messages; must include writes not yet committed."""

    def message(self, message_id: str) -> dict[str, Any] | None: ...

    def by_client_id(
        self, task_id: str, user_id: str, client_message_id: str
    ) -> dict[str, Any] | None: ...


class ChatError(Exception):
    """An admin operation the rules refuse; ``code`` is a protocol error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class _Socket:
    sid: str
    identity: Identity
    rooms: dict[str, None] = field(default_factory=dict)  # ordered set of joined task ids


@dataclass(slots=True)
class _Presence:
    identity: Identity
    joined_at: float
    sids: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Room:
    sockets: dict[str, None] = field(default_factory=dict)  # ordered set: join order
    users: dict[str, _Presence] = field(default_factory=dict)


_NO_PAYLOAD = object()


class ChatRules:
    def __init__(
        self,
        lookup: MessageLookup,
        *,
        tasks: Iterable[Task] = (),
        typing_timeout: float = 5.0,
        rate_limit: int = 20,
        rate_window: float = 10.0,
        new_id: Callable[[], str] | None = None,
    ) -> None:
        self.lookup = lookup
        self.tasks: dict[str, Task] = {t.task_id: t for t in tasks}
        self.typing_timeout = typing_timeout
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self._new_id = new_id or (lambda: uuid.uuid4().hex)
        self._sockets: dict[str, _Socket] = {}
        self._rooms: dict[str, _Room] = {}
        self._typing: dict[tuple[str, str], float] = {}  # (task, user) -> expiry
        self._rate: dict[str, deque[float]] = {}
        # compiled once: validation runs on every inbound event
        self._schemas = {
            name: schema_for(name)
            for name, spec in events().items()
            if spec.direction is Direction.CLIENT_TO_SERVER
        }
        self._validators = {name: fast_validator(rel) for name, rel in self._schemas.items()}
        # the common payload is accepted without jsonschema; anything else goes through it
        self._accept = {
            name: fast_accept(rel) or self._validators[name].is_valid
            for name, rel in self._schemas.items()
        }
        self._handlers: dict[str, Callable[[_Socket, Any, float], list[Effect]]] = {
            Event.JOIN_TASK: self._join,
            Event.LEAVE_TASK: self._leave,
            Event.SEND_MESSAGE: self._send,
            Event.EDIT_MESSAGE: self._edit,
            Event.DELETE_MESSAGE: self._delete,
            Event.TYPING_START: self._typing_start,
            Event.TYPING_STOP: self._typing_stop,
        }
        missing = set(self._schemas) - set(self._handlers)
        assert not missing, f"client events without a rule: {missing}"

    # ------------------------------------------------------------------ sockets

    def connect(self, sid: str, identity: Identity) -> None:
        self._sockets[sid] = _Socket(sid, identity)

    def disconnect(self, sid: str, now: float) -> list[Effect]:
        sock = self._sockets.pop(sid, None)
        if sock is None:
            return []
        effects: list[Effect] = []
        for task_id in list(sock.rooms):
            effects += self._leave_room(sock, task_id, now)
        return effects

    def identity(self, sid: str) -> Identity | None:
        sock = self._sockets.get(sid)
        return sock.identity if sock else None

    def room_sids(self, task_id: str) -> tuple[str, ...]:
        room = self._rooms.get(task_id)
        return tuple(room.sockets) if room else ()

    # ------------------------------------------------------------------ client events

    def handle_event(self, sid: str, event: str, args: list[object], now: float) -> list[Effect]:
        """One client event; the result always ends with exactly one ``Reply``."""
        sock = self._sockets[sid]
        handler = self._handlers.get(event)
        if handler is None:
            name = event[:128]  # echoed back: a client's megabyte name stays with the client
            return self._refusal(sid, name, None, ErrorCode.UNKNOWN_EVENT, f"unknown event {name!r}")
        payload = args[0] if len(args) == 1 else _NO_PAYLOAD
        task_id = _named_task(payload)
        if payload is _NO_PAYLOAD:
            return self._refusal(
                sid, event, None, ErrorCode.INVALID_PAYLOAD,
                f"{event} takes exactly one argument, got {len(args)}",
            )
        bad = invalid_text(payload)
        if bad is not None:  # ISO-2: what the store could not keep never reaches it
            return self._refusal(
                sid, event, task_id if invalid_text(task_id) is None else None,
                ErrorCode.INVALID_PAYLOAD, f"{bad[:200]}: the text is not valid Unicode "
                "(a lone UTF-16 surrogate)",
            )
        validator = self._validators[event]
        if not self._accept[event](payload) and not validator.is_valid(payload):
            # a bounded look at the errors: a 1 MB payload may hold a hundred thousand of them
            errors = list(islice(validator.iter_errors(payload), 16))
            # "unevaluated" is the echo of a failure inside an inlined $ref: name the cause
            worst = best_match(
                [e for e in errors if e.validator != "unevaluatedProperties"] or errors
            )
            text = f"{worst.json_path}: {worst.message}" if worst else "invalid payload"
            if len(text) > 300:
                text = text[:297] + "..."
            return self._refusal(sid, event, task_id, ErrorCode.INVALID_PAYLOAD, text)
        try:
            return handler(sock, payload, now)
        except _Refused as refused:
            return self._refusal(sid, event, task_id, refused.code, refused.message)

    def internal_error(self, sid: str, event: str, args: list[object]) -> list[Effect]:
        """What the caller sends when handling an event raised: that request fails, no more."""
        payload = args[0] if len(args) == 1 else None
        return self._refusal(
            sid, event[:128], _named_task(payload), ErrorCode.INTERNAL, "internal server error"
        )

    def _refusal(
        self, sid: str, event: str, task_id: str | None, code: str, message: str
    ) -> list[Effect]:
        error: dict[str, object] = {"message": message, "code": code, "event": event}
        if task_id is not None:
            error["taskId"] = task_id
        return [
            Emit(Event.ERROR, error, (sid,)),
            Reply({"ok": False, "error": {"code": code, "message": message}}),
        ]

    def _commenter(self, sock: _Socket, task_id: str, doing: str) -> None:
        """A joined member whose role may comment (send, edit, type); refused otherwise."""
        _task, member = self._member(sock, task_id, joined=True)
        if member.role not in CAN_COMMENT:
            raise _Refused(ErrorCode.FORBIDDEN, f"a {member.role} cannot {doing}")

    def _member(self, sock: _Socket, task_id: str, *, joined: bool) -> tuple[Task, Member]:
        """The checks every request makes, in the precedence order of CONTRACT §10."""
        task = self.tasks.get(task_id)
        if task is None:
            raise _Refused(ErrorCode.TASK_NOT_FOUND, f"task {task_id!r} does not exist")
        member = task.members.get(sock.identity.user_id)
        if member is None:
            raise _Refused(ErrorCode.FORBIDDEN, "you are not a member of this task")
        if joined and task_id not in sock.rooms:
            raise _Refused(ErrorCode.NOT_JOINED, "join the task before this request")
        return task, member

    def _join(self, sock: _Socket, task_id: str, now: float) -> list[Effect]:
        self._member(sock, task_id, joined=False)
        effects: list[Effect] = []
        if task_id not in sock.rooms:
            room = self._rooms.setdefault(task_id, _Room())
            others = tuple(room.sockets)
            room.sockets[sock.sid] = None
            sock.rooms[task_id] = None
            uid = sock.identity.user_id
            presence = room.users.get(uid)
            if presence is None:
                room.users[uid] = _Presence(sock.identity, now, {sock.sid})
                if others:
                    joined = _presence(task_id, sock.identity, now)
                    effects.append(Emit(Event.USER_JOINED, joined, others))
            else:
                presence.sids.add(sock.sid)
        online = [
            {"userId": uid, "userName": p.identity.name, "joinedAt": iso(p.joined_at)}
            for uid, p in self._rooms[task_id].users.items()
        ]
        effects.append(Reply({"ok": True, "taskId": task_id, "onlineUsers": online}))
        return effects

    def _leave(self, sock: _Socket, task_id: str, now: float) -> list[Effect]:
        self._member(sock, task_id, joined=False)
        effects = self._leave_room(sock, task_id, now) if task_id in sock.rooms else []
        effects.append(Reply({"ok": True, "taskId": task_id}))
        return effects

    def _leave_room(self, sock: _Socket, task_id: str, now: float) -> list[Effect]:
        """Take one socket out of a room; announce the user's departure if it was their last."""
        room = self._rooms[task_id]
        room.sockets.pop(sock.sid, None)
        sock.rooms.pop(task_id, None)
        uid = sock.identity.user_id
        presence = room.users[uid]
        presence.sids.discard(sock.sid)
        effects: list[Effect] = []
        if not presence.sids:
            del room.users[uid]
            rest = tuple(room.sockets)
            if self._typing.pop((task_id, uid), None) is not None and rest:
                effects.append(
                    Emit(Event.USER_STOPPED_TYPING, {"taskId": task_id, "userId": uid}, rest)
                )
            if rest:
                left = _presence(task_id, presence.identity, now)
                effects.append(Emit(Event.USER_LEFT, left, rest))
        if not room.sockets:
            del self._rooms[task_id]
        return effects

    def _others(self, task_id: str, sid: str) -> tuple[str, ...]:
        return tuple(s for s in self._rooms[task_id].sockets if s != sid)

    def _stop_typing(self, task_id: str, user_id: str, to: tuple[str, ...]) -> list[Effect]:
        if self._typing.pop((task_id, user_id), None) is None or not to:
            return []
        return [Emit(Event.USER_STOPPED_TYPING, {"taskId": task_id, "userId": user_id}, to)]

    def _take_rate(self, user_id: str, now: float) -> None:
        if self.rate_limit == 0:  # 0 switches the limit off, as in most tools
            return
        window = self._rate.get(user_id)
        if window is None:
            window = self._rate[user_id] = deque()
        horizon = now - self.rate_window
        while window and window[0] <= horizon:
            window.popleft()
        if len(window) >= self.rate_limit:
            raise _Refused(
                ErrorCode.RATE_LIMITED,
                f"at most {self.rate_limit} messages per {self.rate_window:g} s; slow down",
            )
        window.append(now)

    def _message_of(self, task_id: str, message_id: str, *, deleted_ok: bool) -> dict[str, Any]:
        msg = self.lookup.message(message_id)
        if msg is None or msg["task_id"] != task_id or (msg.get("is_deleted") and not deleted_ok):
            raise _Refused(ErrorCode.MESSAGE_NOT_FOUND, f"message {message_id!r} not found")
        return msg

    def _send(self, sock: _Socket, p: dict[str, Any], now: float) -> list[Effect]:
        task_id = p["taskId"]
        self._commenter(sock, task_id, "send messages")
        ident = sock.identity
        client_id = p.get("clientMessageId")
        if client_id is not None:
            original = self.lookup.by_client_id(task_id, ident.user_id, client_id)
            if original is not None:
                return [Reply({"ok": True, "message": wire_message(original)})]
        reply_to = p.get("replyTo")
        if reply_to is not None:
            self._message_of(task_id, reply_to, deleted_ok=True)
        self._take_rate(ident.user_id, now)
        stamp = iso(now)
        message: dict[str, Any] = {
            "id": self._new_id(),
            "task_id": task_id,
            "user_id": ident.user_id,
            "first_name": ident.first_name,
            "last_name": ident.last_name,
            "avatar_url": ident.avatar_url,
            "message": p["message"].strip(),
            "attachments": p.get("attachments") or [],
            "reply_to": reply_to,
            "client_message_id": client_id,
            "created_at": stamp,
            "updated_at": stamp,
            "is_edited": False,
            "is_deleted": False,
            "deleted_at": None,
        }
        effects: list[Effect] = [PutMessage(message)]
        effects += self._stop_typing(task_id, ident.user_id, self._others(task_id, sock.sid))
        room = tuple(self._rooms[task_id].sockets)
        wire = wire_message(message)
        effects.append(Emit(Event.NEW_MESSAGE, {"taskId": task_id, "message": wire}, room))
        effects.append(Reply({"ok": True, "message": wire}))
        return effects

    def _edit(self, sock: _Socket, p: dict[str, Any], now: float) -> list[Effect]:
        task_id = p["taskId"]
        self._commenter(sock, task_id, "edit messages")
        msg = self._message_of(task_id, p["messageId"], deleted_ok=False)
        if msg["user_id"] != sock.identity.user_id:
            raise _Refused(ErrorCode.FORBIDDEN, "only the author may edit a message")
        self._take_rate(sock.identity.user_id, now)
        edited = {**msg, "message": p["newMessage"].strip(), "updated_at": iso(now), "is_edited": True}
        room = tuple(self._rooms[task_id].sockets)
        wire = wire_message(edited)
        return [
            PutMessage(edited),
            Emit(Event.MESSAGE_EDITED, {"taskId": task_id, "message": wire}, room),
            Reply({"ok": True, "message": wire}),
        ]

    def _delete(self, sock: _Socket, p: dict[str, Any], now: float) -> list[Effect]:
        task_id = p["taskId"]
        _task, member = self._member(sock, task_id, joined=True)
        if member.role not in CAN_DELETE_OWN:
            raise _Refused(ErrorCode.FORBIDDEN, f"a {member.role} cannot delete messages")
        msg = self._message_of(task_id, p["messageId"], deleted_ok=False)
        if msg["user_id"] != sock.identity.user_id and member.role not in CAN_DELETE_OTHERS:
            raise _Refused(ErrorCode.FORBIDDEN, f"a {member.role} cannot delete others' messages")
        self._take_rate(sock.identity.user_id, now)
        tombstone = {**msg, "is_deleted": True, "deleted_at": iso(now)}
        room = tuple(self._rooms[task_id].sockets)
        return [
            PutMessage(tombstone),
            Emit(Event.MESSAGE_DELETED, {"taskId": task_id, "messageId": msg["id"]}, room),
            Reply({"ok": True, "messageId": msg["id"]}),
        ]

    def _typing_start(self, sock: _Socket, p: dict[str, Any], now: float) -> list[Effect]:
        task_id = p["taskId"]
        self._commenter(sock, task_id, "type")
        key = (task_id, sock.identity.user_id)
        effects: list[Effect] = []
        if key not in self._typing:
            others = self._others(task_id, sock.sid)
            if others:
                typing = {
                    "taskId": task_id,
                    "userId": sock.identity.user_id,
                    "userName": sock.identity.name,
                }
                effects.append(Emit(Event.USER_TYPING, typing, others))
        self._typing[key] = now + self.typing_timeout
        effects.append(Reply({"ok": True}))
        return effects

    def _typing_stop(self, sock: _Socket, p: dict[str, Any], now: float) -> list[Effect]:
        task_id = p["taskId"]
        self._member(sock, task_id, joined=True)
        effects = self._stop_typing(task_id, sock.identity.user_id, self._others(task_id, sock.sid))
        effects.append(Reply({"ok": True}))
        return effects

    # ------------------------------------------------------------------ time

    def next_deadline(self) -> float | None:
        """When ``tick`` next has something to do (a typing expiry), or None."""
        return min(self._typing.values(), default=None)

    def tick(self, now: float) -> list[Effect]:
        """The server's own ``user_stopped_typing`` for typing that expired (TYPE-4)."""
        effects: list[Effect] = []
        for key in [k for k, deadline in self._typing.items() if deadline <= now]:
            del self._typing[key]
            task_id, user_id = key
            to = self.room_sids(task_id)
            if to:
                payload = {"taskId": task_id, "userId": user_id}
                effects.append(Emit(Event.USER_STOPPED_TYPING, payload, to))
        return effects

    # ------------------------------------------------------------------ admin operations

    def _task(self, task_id: str) -> Task:
        task = self.tasks.get(task_id)
        if task is None:
            raise ChatError(ErrorCode.TASK_NOT_FOUND, f"task {task_id!r} does not exist")
        return task

    def create_task(self, task_id: str | None, title: str) -> tuple[Task, list[Effect]]:
        """A new task; the caller checks first that ``task_id`` is free (HTTP 409 otherwise)."""
        task_id = task_id or self._new_id()
        assert task_id not in self.tasks, "create_task on an existing id"
        task = self.tasks[task_id] = Task(task_id, title)
        return task, [PutTask(task_id, title, {})]

    def update_task(
        self, task_id: str, changes: dict[str, Any], updated_by: str | None, now: float
    ) -> list[Effect]:
        task = self._task(task_id)
        if isinstance(changes.get("title"), str):
            task.title = changes["title"]
        task.data.update({k: v for k, v in changes.items() if k != "title"})
        payload: dict[str, object] = {"taskId": task_id, "changes": changes, "timestamp": iso(now)}
        if updated_by is not None:
            payload["updatedBy"] = updated_by
        effects: list[Effect] = [PutTask(task_id, task.title, dict(task.data))]
        effects += self._to_room(task_id, Event.TASK_UPDATED, payload)
        return effects

    def put_member(
        self, task_id: str, user_id: str, role: str, user_name: str | None, now: float
    ) -> tuple[Member, list[Effect]]:
        task = self._task(task_id)
        existing = task.members.get(user_id)
        name = user_name or (existing.user_name if existing else None) or self._known_name(user_id)
        member = task.members[user_id] = Member(user_id, name, role)
        payload = {
            "taskId": task_id,
            "action": "updated" if existing else "added",
            "member": member.wire(),
            "timestamp": iso(now),
        }
        effects: list[Effect] = [PutMember(task_id, user_id, name, role)]
        effects += self._to_room(task_id, Event.MEMBER_CHANGED, payload)
        return member, effects

    def remove_member(self, task_id: str, user_id: str, now: float) -> list[Effect]:
        """D13: member_changed to the whole room, then the user's sockets leave, then user_left."""
        task = self._task(task_id)
        member = task.members.pop(user_id, None)
        if member is None:
            return []
        payload = {
            "taskId": task_id,
            "action": "removed",
            "member": member.wire(),
            "timestamp": iso(now),
        }
        effects: list[Effect] = [DeleteMember(task_id, user_id)]
        effects += self._to_room(task_id, Event.MEMBER_CHANGED, payload)
        room = self._rooms.get(task_id)
        presence = room.users.get(user_id) if room else None
        if presence is not None:
            for sid in list(presence.sids):
                effects += self._leave_room(self._sockets[sid], task_id, now)
        return effects

    def notify(
        self, task_id: str, kind: str, message: str, data: dict[str, Any] | None, now: float
    ) -> list[Effect]:
        self._task(task_id)
        payload: dict[str, object] = {"taskId": task_id, "type": kind, "message": message}
        if data is not None:
            payload["data"] = data
        payload["timestamp"] = iso(now)
        return self._to_room(task_id, Event.TASK_NOTIFICATION, payload)

    def is_member(self, task_id: str, user_id: str) -> bool:
        task = self.tasks.get(task_id)
        return task is not None and user_id in task.members

    def _to_room(self, task_id: str, event: str, payload: dict[str, object]) -> list[Effect]:
        to = self.room_sids(task_id)
        return [Emit(event, payload, to)] if to else []

    def _known_name(self, user_id: str) -> str:
        for sock in self._sockets.values():
            if sock.identity.user_id == user_id:
                return sock.identity.name
        return user_id


def _named_task(payload: object) -> str | None:
    """The taskId a request named, for the error event (D5), even when the payload is invalid."""
    task_id = payload.get("taskId") if isinstance(payload, dict) else payload
    if isinstance(task_id, str) and 0 < len(task_id) <= 128:  # never echo a megabyte back
        return task_id
    return None


def _presence(task_id: str, identity: Identity, now: float) -> dict[str, Any]:
    """The payload of user_joined and user_left: the same fields, for arrival and departure."""
    return {
        "taskId": task_id,
        "userId": identity.user_id,
        "userName": identity.name,
        "timestamp": iso(now),
    }
