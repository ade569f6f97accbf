"""The schema test corpus: valid payloads, and invalid ones with where each must be rejected.

Invalid cases are written as "this valid payload, with one thing changed": the change is the
constraint under test, and the expected JSON path is where a user must be told about it.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from taskchat.schemas import ErrorCode
from taskchat.schemas.protocol import AUTH_ERROR_CODES, EVENT_ERROR_CODES, INDEX, events

C2S = "client-to-server/"
S2C = "server-to-client/"
ACK = "acks/"

TS = "2026-11-25T20:29:29.123Z"
LONG_ID = "i" * 128
TOO_LONG_ID = "i" * 129
SPACES = " \t\n "

# --------------------------------------------------------------------------------------------
# building blocks

_DROP = object()
_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    assert path.startswith("$"), path
    steps: list[str | int] = []
    for name, index in _STEP.findall(path[1:]):
        steps.append(name if name else int(index))
    return steps


def put(base: Any, path: str, value: Any) -> Any:
    """A copy of ``base`` with the value at ``path`` (``$.a[0].b``) replaced, or added."""
    out = copy.deepcopy(base)
    *parents, last = _steps(path)
    node = out
    for step in parents:
        node = node[step]
    if value is _DROP:
        del node[last]
    elif isinstance(node, list) and last == len(node):
        node.append(value)
    else:
        node[last] = value
    return out


def drop(base: Any, path: str) -> Any:
    """A copy of ``base`` without the member at ``path``."""
    return put(base, path, _DROP)


# --------------------------------------------------------------------------------------------
# valid payloads: the seed's first, then the edges

ATTACHMENT = {"name": "spec.pdf", "url": "https://files.example.com/spec.pdf",
              "size": 12345, "mime_type": "application/pdf"}

MESSAGE = {
    "id": "m-1",
    "task_id": "task-id",
    "user_id": "u-1",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "avatar_url": None,
    "message": "Hello world!",
    "attachments": [],
    "reply_to": None,
    "client_message_id": None,
    "created_at": TS,
    "updated_at": TS,
    "is_edited": False,
}
FULL_MESSAGE = {**MESSAGE, "avatar_url": "https://cdn.example.com/ada.png",
                "attachments": [ATTACHMENT], "reply_to": "m-0", "client_message_id": "c-1"}
EDITED = {**MESSAGE, "message": "Updated message", "is_edited": True,
          "updated_at": "2026-11-25T20:30:00.000Z"}
TOMBSTONE = {**MESSAGE, "message": "", "attachments": [], "is_deleted": True,
             "deleted_at": "2026-11-25T20:31:00.000Z"}
LIVE_HISTORY = {**MESSAGE, "is_deleted": False, "deleted_at": None}

SEND = {"taskId": "task-id", "message": "Hello world!", "attachments": [], "replyTo": None}
EDIT = {"taskId": "task-id", "messageId": "message-id", "newMessage": "Updated message"}
DELETE = {"taskId": "task-id", "messageId": "message-id"}
TYPING = {"taskId": "task-id"}

USER_EVENT = {"taskId": "task-id", "userId": "u-1", "userName": "Ada Lovelace", "timestamp": TS}
USER_TYPING = {"taskId": "task-id", "userId": "u-1", "userName": "Ada Lovelace"}
NOTIFICATION = {"taskId": "task-id", "type": "deadline", "message": "Due tomorrow",
                "data": {"due": "2026-11-26"}, "timestamp": TS}
TASK_UPDATED = {"taskId": "task-id", "changes": {"title": "New title"}, "updatedBy": "admin-1",
                "timestamp": TS}
MEMBER = {"userId": "u-2", "userName": "Grace Hopper", "role": "member"}
MEMBER_CHANGED = {"taskId": "task-id", "action": "added", "member": MEMBER, "timestamp": TS}
ERROR_EVENT = {"message": "You are not in this task's room", "code": ErrorCode.NOT_JOINED,
               "event": "send_message", "taskId": "task-id"}
ONLINE = {"userId": "u-1", "userName": "Ada Lovelace", "joinedAt": TS}
ERROR_ACK = {"ok": False, "error": {"code": ErrorCode.FORBIDDEN, "message": "Viewers may not"}}

CONNECT_AUTH = {"token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2ln"}
CONNECT_ERROR = {"message": "Token expired", "data": {"code": "AUTH_EXPIRED"}}

HISTORY = {"taskId": "task-id", "messages": [EDITED, TOMBSTONE, MESSAGE], "hasMore": False}
HTTP_ERROR = {"error": {"code": "NOT_FOUND", "message": "No such route"}}


def text(points: int, pad: str = "") -> str:
    """Message text of exactly ``points`` code points after trimming (not all one character,
    so a pattern that only checks the ends is not mistaken for one that counts)."""
    body = ("ab c" * (points // 4 + 1))[: points - 1] + "z" if points > 1 else "z" * points
    return f"{pad}{body}{pad}"


# One good payload per server→client event and per ok:true ack, by event name.
S2C_EXAMPLES: dict[str, dict[str, Any]] = {
    "new_message": {"taskId": "task-id", "message": MESSAGE},
    "message_edited": {"taskId": "task-id", "message": EDITED},
    "message_deleted": {"taskId": "task-id", "messageId": "m-1"},
    "user_joined": USER_EVENT,
    "user_left": USER_EVENT,
    "user_typing": USER_TYPING,
    "user_stopped_typing": {"taskId": "task-id", "userId": "u-1"},
    "task_notification": NOTIFICATION,
    "task_updated": TASK_UPDATED,
    "member_changed": MEMBER_CHANGED,
    "error": ERROR_EVENT,
}
ACK_EXAMPLES: dict[str, dict[str, Any]] = {
    "join_task": {"ok": True, "taskId": "task-id", "onlineUsers": [ONLINE]},
    "leave_task": {"ok": True, "taskId": "task-id"},
    "send_message": {"ok": True, "message": MESSAGE},
    "edit_message": {"ok": True, "message": EDITED},
    "delete_message": {"ok": True, "messageId": "m-1"},
    "typing_start": {"ok": True},
    "typing_stop": {"ok": True},
}
OPEN_LABEL = "D1: unknown members are accepted (open)"

# (schema file, label, payload)
VALID: list[tuple[str, str, Any]] = [
    # client → server: the seed's payloads exactly as websocketService sends them
    (C2S + "join_task.json", "seed: bare taskId string", "task-id"),
    (C2S + "join_task.json", "id of 128 characters", LONG_ID),
    (C2S + "leave_task.json", "seed: bare taskId string", "task-id"),
    (C2S + "send_message.json", "seed: attachments [] and replyTo null", SEND),
    (C2S + "send_message.json", "only the required members", {"taskId": "t", "message": "x"}),
    (C2S + "send_message.json", "everything",
     {**SEND, "attachments": [ATTACHMENT, {"name": "a", "url": "http://localhost:9553/a"}],
      "replyTo": "m-0", "clientMessageId": "c-1"}),
    (C2S + "send_message.json", "clientMessageId null", {**SEND, "clientMessageId": None}),
    (C2S + "send_message.json", "10 attachments", {**SEND, "attachments": [ATTACHMENT] * 10}),
    (C2S + "send_message.json", "upper-case scheme", put(SEND, "$.attachments",
                                                         [{"name": "a", "url": "HTTPS://A.B/c"}])),
    (C2S + "send_message.json", "5,000 code points after trimming, spaces around",
     {**SEND, "message": text(5000, SPACES)}),
    (C2S + "send_message.json", "5,000 astral code points (10,000 UTF-16 units)",
     {**SEND, "message": "😀" * 5000}),
    (C2S + "send_message.json", "one character in spaces", {**SEND, "message": "  x  "}),
    (C2S + "send_message.json", "ids of 128 characters",
     {**SEND, "taskId": LONG_ID, "replyTo": LONG_ID, "clientMessageId": LONG_ID}),
    (C2S + "edit_message.json", "seed", EDIT),
    (C2S + "edit_message.json", "5,000 code points after trimming",
     {**EDIT, "newMessage": text(5000, "  ")}),
    (C2S + "delete_message.json", "seed", DELETE),
    (C2S + "typing_start.json", "seed", TYPING),
    (C2S + "typing_stop.json", "seed", TYPING),
    # server → client, with the members the seed's handlers read
    (S2C + "new_message.json", "message as the seed renders it", {"taskId": "task-id",
                                                                  "message": MESSAGE}),
    (S2C + "new_message.json", "full message", {"taskId": "task-id", "message": FULL_MESSAGE}),
    (S2C + "new_message.json", "D1: unknown message members are accepted (open)",
     {"taskId": "task-id", "message": {**MESSAGE, "reactions": []}}),
    (S2C + "new_message.json", "stored text of 5,000 code points",
     {"taskId": "task-id", "message": {**MESSAGE, "message": text(5000)}}),
    (S2C + "message_edited.json", "edited message", {"taskId": "task-id", "message": EDITED}),
    (S2C + "message_deleted.json", "ids", {"taskId": "task-id", "messageId": "m-1"}),
    (S2C + "user_joined.json", "presence", USER_EVENT),
    (S2C + "user_joined.json", "D3: +00:00 is UTC too", {**USER_EVENT,
                                                         "timestamp": "2026-11-25T20:29:29+00:00"}),
    (S2C + "user_left.json", "presence", USER_EVENT),
    (S2C + "user_typing.json", "typing", USER_TYPING),
    (S2C + "user_stopped_typing.json", "typing", {"taskId": "task-id", "userId": "u-1"}),
    (S2C + "task_notification.json", "with data", NOTIFICATION),
    (S2C + "task_notification.json", "without data", drop(NOTIFICATION, "$.data")),
    (S2C + "task_updated.json", "updatedBy", TASK_UPDATED),
    (S2C + "task_updated.json", "updatedBy null", {**TASK_UPDATED, "updatedBy": None}),
    (S2C + "task_updated.json", "no updatedBy", drop(TASK_UPDATED, "$.updatedBy")),
    *[(S2C + "member_changed.json", f"action {a}", {**MEMBER_CHANGED, "action": a})
      for a in ("added", "removed", "updated")],
    *[(S2C + "member_changed.json", f"role {r}", put(MEMBER_CHANGED, "$.member.role", r))
      for r in ("owner", "admin", "member", "viewer")],
    (S2C + "error.json", "full", ERROR_EVENT),
    (S2C + "error.json", "only message and code", {"message": "Bad", "code": "INVALID_PAYLOAD"}),
    *[(S2C + "error.json", f"code {c}", {**ERROR_EVENT, "code": c}) for c in EVENT_ERROR_CODES],
    # acks: the ok:true form of each, and the shared ok:false form
    (ACK + "join_task.json", "joiner online", {"ok": True, "taskId": "task-id",
                                               "onlineUsers": [ONLINE]}),
    (ACK + "leave_task.json", "ok", {"ok": True, "taskId": "task-id"}),
    (ACK + "leave_task.json", "just ok", {"ok": True}),
    (ACK + "send_message.json", "the message", {"ok": True, "message": MESSAGE}),
    (ACK + "edit_message.json", "the message", {"ok": True, "message": EDITED}),
    (ACK + "delete_message.json", "the id", {"ok": True, "messageId": "m-1"}),
    (ACK + "typing_start.json", "D7: just ok", {"ok": True}),
    (ACK + "typing_stop.json", "D7: just ok", {"ok": True}),
    (ACK + "error.json", "refused", ERROR_ACK),
    *[(spec.ack, "ok:false", ERROR_ACK) for spec in events().values() if spec.ack],
    *[(ACK + "error.json", f"code {c}", put(ERROR_ACK, "$.error.code", c))
      for c in EVENT_ERROR_CODES],
    # D1: what a client receives is open, so a server may add members without breaking it
    *[(events()[n].payload, OPEN_LABEL, {**p, "addedLater": {"any": 1}})
      for n, p in S2C_EXAMPLES.items()],
    *[(events()[n].ack, OPEN_LABEL, {**p, "addedLater": 1}) for n, p in ACK_EXAMPLES.items()],
    (ACK + "error.json", OPEN_LABEL, put(ERROR_ACK, "$.error.retryAfter", 3)),
    # CONNECT
    (INDEX["connect"]["auth"], "seed: auth {token}", CONNECT_AUTH),
    (INDEX["connect"]["auth"], "D1: other members are ignored", {**CONNECT_AUTH, "v": 2}),
    (INDEX["connect"]["accepted"], "sid", {"sid": "ZmFrZS1zaWQ"}),
    *[(INDEX["connect"]["refused"], f"code {c}", put(CONNECT_ERROR, "$.data.code", c))
      for c in AUTH_ERROR_CODES],
    # shared definitions and history
    ("defs/message.json", "tombstone", TOMBSTONE),
    ("defs/message.json", "live message in history", LIVE_HISTORY),
    ("defs/timestamp.json", "no fraction", "2026-11-25T20:29:29Z"),
    ("http/history.json", "page with a tombstone", HISTORY),
    ("http/health.json", "ok", {"status": "ok"}),
    ("http/error.json", "D21 code", HTTP_ERROR),
    ("http/error.json", "protocol code", put(HTTP_ERROR, "$.error.code", "TASK_NOT_FOUND")),
    (INDEX["connect"]["refused"], "D16: unknown namespace", {"message": "Invalid namespace"}),
    ("http/task_updated.response.json", "task after a change", {"taskId": "t-1", "title": "Spec", "status": "done"}),
    ("http/notification.response.json", "accepted", {"taskId": "t-1", "delivered": True}),
    ("http/create_task.request.json", "title only", {"title": "Write the spec"}),
    ("http/create_task.request.json", "with taskId", {"taskId": "t-1", "title": "Spec"}),
    ("http/task.json", "task", {"taskId": "t-1", "title": "Spec"}),
    ("http/update_task.request.json", "changes", {"title": "New", "status": "done"}),
    ("http/put_member.request.json", "role", {"role": "viewer"}),
    ("http/put_member.request.json", "role and name", {"role": "admin", "userName": "Ada"}),
    ("http/notification.request.json", "notification", {"type": "t", "message": "m",
                                                        "data": {}}),
]


# --------------------------------------------------------------------------------------------
# invalid payloads


@dataclass(frozen=True, slots=True)
class Bad:
    schema: str
    why: str
    payload: Any
    path: str  # where the violation must be reported
    keyword: str  # the keyword the user is told failed

    @property
    def id(self) -> str:
        return f"{self.schema}: {self.why}"


def _missing(schema: str, base: dict[str, Any], at: str = "$") -> list[Bad]:
    """One case per required member of the object at ``at``: each missing in turn."""
    node = base
    for step in _steps(at):
        node = node[step]
    return [Bad(schema, f"{at} without {name}", drop(base, f"{at}.{name}"), at, "required")
            for name in node]


def _required_of(schema: str, base: dict[str, Any], names: list[str], at: str = "$") -> list[Bad]:
    return [Bad(schema, f"{at} without {n}", drop(base, f"{at}.{n}"), at, "required")
            for n in names]


def _message_cases(schema: str, base: Any, at: str) -> list[Bad]:
    """The constraints of defs/message.json (and what it references), at ``at`` in ``base``."""
    m = f"{at}."
    return [
        *_required_of(schema, base, list(MESSAGE), at),
        Bad(schema, "id of 129 characters", put(base, m + "id", TOO_LONG_ID), m + "id",
            "maxLength"),
        Bad(schema, "empty user_id", put(base, m + "user_id", ""), m + "user_id", "minLength"),
        Bad(schema, "first_name of 257", put(base, m + "first_name", "f" * 257), m + "first_name",
            "maxLength"),
        Bad(schema, "last_name of 257", put(base, m + "last_name", "l" * 257), m + "last_name",
            "maxLength"),
        Bad(schema, "avatar_url of 2049", put(base, m + "avatar_url", "https://a/" + "x" * 2039),
            m + "avatar_url", "maxLength"),
        Bad(schema, "avatar_url a number", put(base, m + "avatar_url", 1), m + "avatar_url",
            "type"),
        Bad(schema, "stored text of 5,001", put(base, m + "message", text(5001)), m + "message",
            "maxLength"),
        Bad(schema, "stored text untrimmed", put(base, m + "message", " x"), m + "message",
            "pattern"),
        Bad(schema, "empty text of a live message", put(base, m + "message", ""), m + "message",
            "minLength"),
        Bad(schema, "11 attachments", put(base, m + "attachments", [ATTACHMENT] * 11),
            m + "attachments", "maxItems"),
        Bad(schema, "javascript: attachment", put(base, m + "attachments[0]",
                                                  {"name": "x", "url": "javascript:alert(1)"}),
            m + "attachments[0].url", "pattern"),
        Bad(schema, "reply_to empty", put(base, m + "reply_to", ""), m + "reply_to", "oneOf"),
        Bad(schema, "client_message_id of 129", put(base, m + "client_message_id", TOO_LONG_ID),
            m + "client_message_id", "oneOf"),
        Bad(schema, "created_at not UTC", put(base, m + "created_at", "2026-11-25T21:29:29+01:00"),
            m + "created_at", "pattern"),
        Bad(schema, "updated_at not a date-time", put(base, m + "updated_at", "2026-13-01T00:00:00Z"),
            m + "updated_at", "format"),
        Bad(schema, "is_edited a string", put(base, m + "is_edited", "false"), m + "is_edited",
            "type"),
        # the tombstone (if is_deleted: then blanked, with deleted_at)
        Bad(schema, "tombstone with text", put(put(base, at, TOMBSTONE), m + "message", "secret"),
            m + "message", "maxLength"),
        Bad(schema, "tombstone with attachments",
            put(put(base, at, TOMBSTONE), m + "attachments", [ATTACHMENT]), m + "attachments",
            "maxItems"),
        Bad(schema, "tombstone without deleted_at", drop(put(base, at, TOMBSTONE),
                                                         m + "deleted_at"), at, "required"),
        Bad(schema, "tombstone with deleted_at null",
            put(put(base, at, TOMBSTONE), m + "deleted_at", None), m + "deleted_at", "type"),
        Bad(schema, "is_deleted false with empty text",
            put(put(base, at, LIVE_HISTORY), m + "message", ""), m + "message", "minLength"),
        Bad(schema, "is_deleted a string", put(put(base, at, LIVE_HISTORY), m + "is_deleted", "yes"),
            m + "is_deleted", "const"),
        Bad(schema, "a live message with deleted_at",
            put(put(base, at, LIVE_HISTORY), m + "deleted_at", "2026-11-25T20:31:00.000Z"),
            m + "deleted_at", "type"),
        Bad(schema, "deleted_at not UTC", put(put(base, at, LIVE_HISTORY), m + "deleted_at",
                                              "2026-11-25T20:29:29-05:00"),
            m + "deleted_at", "oneOf"),
    ]


def _id_cases(schema: str, base: Any, path: str) -> list[Bad]:
    """DATA-2: an id that is empty, too long, or not a string."""
    return [
        Bad(schema, f"{path} empty", put(base, path, ""), path, "minLength"),
        Bad(schema, f"{path} of 129 characters", put(base, path, TOO_LONG_ID), path, "maxLength"),
        Bad(schema, f"{path} a number", put(base, path, 42), path, "type"),
    ]


def _closed(schema: str, base: dict[str, Any], extra: str) -> Bad:
    return Bad(schema, f"D1: unknown member {extra}", {**base, extra: 1}, "$",
               "additionalProperties")


def _url(url: str, why: str) -> Bad:
    return Bad(C2S + "send_message.json", f"attachment url {why}",
               put(SEND, "$.attachments", [ATTACHMENT, {"name": "x", "url": url}]),
               "$.attachments[1].url", "pattern")


def _ack_cases(schema: str, ok: dict[str, Any]) -> list[Bad]:
    return [
        # without `ok` neither form is meant: what both forms need, `ok`, is what is reported
        Bad(schema, "$ without ok", drop(ok, "$.ok"), "$", "required"),
        *_required_of(schema, ok, [k for k in ok if k != "ok"]),
        Bad(schema, "ok a string", {**ok, "ok": "true"}, "$.ok", "const"),
        Bad(schema, "ok:false without error", {"ok": False}, "$", "required"),
    ]


_SEND = C2S + "send_message.json"
_EDIT = C2S + "edit_message.json"
_ERR = S2C + "error.json"
_NOTE = S2C + "task_notification.json"
_TU = S2C + "task_updated.json"
_MC = S2C + "member_changed.json"

INVALID: list[Bad] = [
    # join_task / leave_task: a bare id string
    *[Bad(C2S + e, w, p, "$", k) for e in ("join_task.json", "leave_task.json") for w, p, k in (
        ("empty", "", "minLength"), ("129 characters", TOO_LONG_ID, "maxLength"),
        ("an object, not the seed's bare string", {"taskId": "t"}, "type"), ("null", None, "type"),
    )],
    # send_message
    *_missing(_SEND, drop(drop(SEND, "$.attachments"), "$.replyTo")),
    *_id_cases(_SEND, SEND, "$.taskId"),
    _closed(_SEND, SEND, "messageID"),
    Bad(_SEND, "D2: empty text", {**SEND, "message": ""}, "$.message", "minLength"),
    Bad(_SEND, "D2: only white space", {**SEND, "message": SPACES}, "$.message", "pattern"),
    Bad(_SEND, "D2: 5,001 code points after trimming, spaces around",
        {**SEND, "message": text(5001, SPACES)}, "$.message", "pattern"),
    Bad(_SEND, "D2: 5,001 astral code points", {**SEND, "message": "😀" * 5001}, "$.message",
        "pattern"),
    Bad(_SEND, "text a number", {**SEND, "message": 5}, "$.message", "type"),
    Bad(_SEND, "11 attachments", {**SEND, "attachments": [ATTACHMENT] * 11}, "$.attachments",
        "maxItems"),
    Bad(_SEND, "attachments an object", {**SEND, "attachments": {}}, "$.attachments", "type"),
    _url("javascript:alert(document.cookie)", "javascript:"),
    _url("JavaScript:alert(1)", "JavaScript: in mixed case"),
    _url("data:text/html,<script>alert(1)</script>", "data:"),
    _url("/files/spec.pdf", "relative"),
    _url("ftp://files.example.com/spec.pdf", "ftp:"),
    _url("https://", "without a host"),
    _url("https://exa mple.com/", "with a space"),
    Bad(_SEND, "attachment url not a URI", put(SEND, "$.attachments", [
        {"name": "x", "url": "https://[::1/x"}]), "$.attachments[0].url", "format"),
    Bad(_SEND, "attachment url of 2049", put(SEND, "$.attachments", [
        {"name": "x", "url": "https://a.b/" + "x" * 2037}]), "$.attachments[0].url", "maxLength"),
    *_required_of(_SEND, put(SEND, "$.attachments", [ATTACHMENT]), ["name", "url"],
                  "$.attachments[0]"),
    Bad(_SEND, "attachment name empty", put(SEND, "$.attachments", [{**ATTACHMENT, "name": ""}]),
        "$.attachments[0].name", "minLength"),
    Bad(_SEND, "attachment name of 256", put(SEND, "$.attachments", [
        {**ATTACHMENT, "name": "n" * 256}]), "$.attachments[0].name", "maxLength"),
    Bad(_SEND, "attachment size negative", put(SEND, "$.attachments", [
        {**ATTACHMENT, "size": -1}]), "$.attachments[0].size", "minimum"),
    Bad(_SEND, "attachment size fractional", put(SEND, "$.attachments", [
        {**ATTACHMENT, "size": 1.5}]), "$.attachments[0].size", "type"),
    Bad(_SEND, "attachment mime_type empty", put(SEND, "$.attachments", [
        {**ATTACHMENT, "mime_type": ""}]), "$.attachments[0].mime_type", "minLength"),
    Bad(_SEND, "attachment mime_type of 256", put(SEND, "$.attachments", [
        {**ATTACHMENT, "mime_type": "m" * 256}]), "$.attachments[0].mime_type", "maxLength"),
    Bad(_SEND, "D1: unknown attachment member (closed where the server reads it)",
        put(SEND, "$.attachments", [{**ATTACHMENT, "onclick": "x"}]), "$.attachments[0]",
        "unevaluatedProperties"),
    Bad(_SEND, "replyTo empty", {**SEND, "replyTo": ""}, "$.replyTo", "oneOf"),
    Bad(_SEND, "replyTo a number", {**SEND, "replyTo": 7}, "$.replyTo", "oneOf"),
    Bad(_SEND, "clientMessageId of 129", {**SEND, "clientMessageId": TOO_LONG_ID},
        "$.clientMessageId", "oneOf"),
    Bad(_SEND, "clientMessageId empty", {**SEND, "clientMessageId": ""},
        "$.clientMessageId", "oneOf"),
    Bad(_SEND, "a bare string", "Hello", "$", "type"),
    # edit_message, delete_message, typing
    *_missing(_EDIT, EDIT),
    *_id_cases(_EDIT, EDIT, "$.messageId"),
    _closed(_EDIT, EDIT, "message"),
    Bad(_EDIT, "D2: newMessage only white space", {**EDIT, "newMessage": "   "}, "$.newMessage",
        "pattern"),
    Bad(_EDIT, "D2: newMessage of 5,001 after trimming", {**EDIT, "newMessage": text(5001, " ")},
        "$.newMessage", "pattern"),
    *_missing(C2S + "delete_message.json", DELETE),
    *_id_cases(C2S + "delete_message.json", DELETE, "$.messageId"),
    _closed(C2S + "delete_message.json", DELETE, "reason"),
    *[c for e in ("typing_start.json", "typing_stop.json") for c in (
        *_missing(C2S + e, TYPING), *_id_cases(C2S + e, TYPING, "$.taskId"),
        _closed(C2S + e, TYPING, "userId"),
        Bad(C2S + e, "a bare string", "task-id", "$", "type"))],
    # new_message / message_edited carry a message object
    *_missing(S2C + "new_message.json", {"taskId": "task-id", "message": MESSAGE}),
    *_message_cases(S2C + "new_message.json", {"taskId": "task-id", "message": MESSAGE},
                    "$.message"),
    *_missing(S2C + "message_edited.json", {"taskId": "task-id", "message": EDITED}),
    Bad(S2C + "message_edited.json", "message not an object",
        {"taskId": "task-id", "message": "Updated"}, "$.message", "type"),
    *_missing(S2C + "message_deleted.json", {"taskId": "task-id", "messageId": "m-1"}),
    *_id_cases(S2C + "message_deleted.json", {"taskId": "task-id", "messageId": "m-1"},
               "$.messageId"),
    # presence and typing
    *[c for e in ("user_joined.json", "user_left.json") for c in (
        *_missing(S2C + e, USER_EVENT), *_id_cases(S2C + e, USER_EVENT, "$.userId"),
        Bad(S2C + e, "userName of 257", {**USER_EVENT, "userName": "n" * 257}, "$.userName",
            "maxLength"),
        Bad(S2C + e, "D3: timestamp not UTC", {**USER_EVENT, "timestamp": "2026-11-25T20:29:29"},
            "$.timestamp", "pattern"),
        Bad(S2C + e, "timestamp not a date-time", {**USER_EVENT, "timestamp": "Nov 25 2026 Z"},
            "$.timestamp", "format"))],
    *_missing(S2C + "user_typing.json", USER_TYPING),
    Bad(S2C + "user_typing.json", "userName a number", {**USER_TYPING, "userName": 1},
        "$.userName", "type"),
    *_missing(S2C + "user_stopped_typing.json", {"taskId": "task-id", "userId": "u-1"}),
    # backend events
    *_missing(_NOTE, drop(NOTIFICATION, "$.data")),
    Bad(_NOTE, "type empty", {**NOTIFICATION, "type": ""}, "$.type", "minLength"),
    Bad(_NOTE, "type of 65", {**NOTIFICATION, "type": "t" * 65}, "$.type", "maxLength"),
    Bad(_NOTE, "message empty", {**NOTIFICATION, "message": ""}, "$.message", "minLength"),
    Bad(_NOTE, "message of 5,001", {**NOTIFICATION, "message": "m" * 5001}, "$.message",
        "maxLength"),
    Bad(_NOTE, "data a list", {**NOTIFICATION, "data": []}, "$.data", "type"),
    *_missing(_TU, drop(TASK_UPDATED, "$.updatedBy")),
    Bad(_TU, "no changes", {**TASK_UPDATED, "changes": {}}, "$.changes", "minProperties"),
    Bad(_TU, "updatedBy empty", {**TASK_UPDATED, "updatedBy": ""}, "$.updatedBy", "oneOf"),
    *_missing(_MC, MEMBER_CHANGED),
    Bad(_MC, "unknown action", {**MEMBER_CHANGED, "action": "deleted"}, "$.action", "enum"),
    *_missing(_MC, MEMBER_CHANGED, "$.member"),
    Bad(_MC, "unknown role", put(MEMBER_CHANGED, "$.member.role", "guest"), "$.member.role",
        "enum"),
    # error event
    *_required_of(_ERR, ERROR_EVENT, ["message", "code"]),
    Bad(_ERR, "empty message", {**ERROR_EVENT, "message": ""}, "$.message", "minLength"),
    Bad(_ERR, "unknown code", {**ERROR_EVENT, "code": "NOPE"}, "$.code", "oneOf"),
    Bad(_ERR, "AUTH_* codes are for CONNECT_ERROR only", {**ERROR_EVENT, "code": "AUTH_INVALID"},
        "$.code", "oneOf"),
    # acks
    *_ack_cases(ACK + "join_task.json", {"ok": True, "taskId": "t", "onlineUsers": [ONLINE]}),
    *_missing(ACK + "join_task.json", {"ok": True, "taskId": "t", "onlineUsers": [ONLINE]},
              "$.onlineUsers[0]"),
    Bad(ACK + "join_task.json", "the joiner is missing from onlineUsers",
        {"ok": True, "taskId": "t", "onlineUsers": []}, "$.onlineUsers", "minItems"),
    Bad(ACK + "join_task.json", "joinedAt not UTC", put(
        {"ok": True, "taskId": "t", "onlineUsers": [ONLINE]}, "$.onlineUsers[0].joinedAt",
        "2026-11-25T20:29:29+02:00"), "$.onlineUsers[0].joinedAt", "pattern"),
    *_ack_cases(ACK + "leave_task.json", {"ok": True}),
    *_ack_cases(ACK + "send_message.json", {"ok": True, "message": MESSAGE}),
    Bad(ACK + "send_message.json", "message stored untrimmed",
        {"ok": True, "message": {**MESSAGE, "message": "x "}}, "$.message.message", "pattern"),
    *_ack_cases(ACK + "edit_message.json", {"ok": True, "message": EDITED}),
    *_ack_cases(ACK + "delete_message.json", {"ok": True, "messageId": "m-1"}),
    *_ack_cases(ACK + "typing_start.json", {"ok": True}),
    *_ack_cases(ACK + "typing_stop.json", {"ok": True}),
    *_missing(ACK + "error.json", ERROR_ACK),
    *_missing(ACK + "error.json", ERROR_ACK, "$.error"),
    Bad(ACK + "error.json", "ok true with an error", {**ERROR_ACK, "ok": True}, "$.ok", "const"),
    Bad(ACK + "error.json", "unknown code", put(ERROR_ACK, "$.error.code", "OOPS"),
        "$.error.code", "oneOf"),
    Bad(ACK + "error.json", "empty message", put(ERROR_ACK, "$.error.message", ""),
        "$.error.message", "minLength"),
    Bad(ACK + "send_message.json", "ok:false with an unknown code",
        put(ERROR_ACK, "$.error.code", "OOPS"), "$.error.code", "oneOf"),
    # CONNECT
    *_missing(INDEX["connect"]["auth"], CONNECT_AUTH),
    Bad(INDEX["connect"]["auth"], "empty token", {"token": ""}, "$.token", "minLength"),
    Bad(INDEX["connect"]["auth"], "token a number", {"token": 42}, "$.token", "type"),
    *_missing(INDEX["connect"]["accepted"], {"sid": "s"}),
    Bad(INDEX["connect"]["accepted"], "empty sid", {"sid": ""}, "$.sid", "minLength"),
    *_missing(INDEX["connect"]["refused"], CONNECT_ERROR),
    *_missing(INDEX["connect"]["refused"], CONNECT_ERROR, "$.data"),
    Bad(INDEX["connect"]["refused"], "empty message", {**CONNECT_ERROR, "message": ""},
        "$.message", "minLength"),
    Bad(INDEX["connect"]["refused"], "D16: the namespace refusal carries no data",
        {"message": "Invalid namespace", "data": {}}, "$.data", "required"),
    Bad(INDEX["connect"]["refused"], "event code in a CONNECT_ERROR",
        put(CONNECT_ERROR, "$.data.code", "FORBIDDEN"), "$.data.code", "oneOf"),
    # HTTP bodies
    *_missing("http/history.json", HISTORY),
    Bad("http/history.json", "101 messages", {**HISTORY, "messages": [MESSAGE] * 101},
        "$.messages", "maxItems"),
    Bad("http/history.json", "tombstone with text",
        put(HISTORY, "$.messages[1].message", "secret"), "$.messages[1].message", "maxLength"),
    *_missing("http/health.json", {"status": "ok"}),
    Bad("http/health.json", "status not ok", {"status": "down"}, "$.status", "const"),
    *_missing("http/error.json", HTTP_ERROR),
    *_missing("http/error.json", HTTP_ERROR, "$.error"),
    Bad("http/error.json", "lower-case code", put(HTTP_ERROR, "$.error.code", "not_found"),
        "$.error.code", "anyOf"),
    Bad("http/error.json", "an unknown code", put(HTTP_ERROR, "$.error.code", "TEAPOT"),
        "$.error.code", "anyOf"),
    *_missing("http/task_updated.response.json", {"taskId": "t-1", "title": "Spec"}),
    *_missing("http/notification.response.json", {"taskId": "t-1", "delivered": False}),
    Bad("http/error.json", "empty message", put(HTTP_ERROR, "$.error.message", ""),
        "$.error.message", "minLength"),
    *_missing("http/create_task.request.json", {"title": "t"}),
    Bad("http/create_task.request.json", "empty title", {"title": ""}, "$.title", "minLength"),
    Bad("http/create_task.request.json", "title of 501", {"title": "t" * 501}, "$.title",
        "maxLength"),
    Bad("http/create_task.request.json", "taskId of 129", {"title": "t", "taskId": TOO_LONG_ID},
        "$.taskId", "maxLength"),
    Bad("http/create_task.request.json", "unknown member", {"title": "t", "owner": "u"}, "$",
        "additionalProperties"),
    *_missing("http/task.json", {"taskId": "t", "title": "x"}),
    Bad("http/update_task.request.json", "no changes", {}, "$", "minProperties"),
    *_missing("http/put_member.request.json", {"role": "member"}),
    Bad("http/put_member.request.json", "unknown role", {"role": "root"}, "$.role", "enum"),
    Bad("http/put_member.request.json", "userName of 257", {"role": "member",
                                                            "userName": "n" * 257},
        "$.userName", "maxLength"),
    Bad("http/put_member.request.json", "unknown member", {"role": "member", "admin": True}, "$",
        "additionalProperties"),
    *_missing("http/notification.request.json", {"type": "t", "message": "m"}),
    Bad("http/notification.request.json", "empty type", {"type": "", "message": "m"}, "$.type",
        "minLength"),
    Bad("http/notification.request.json", "type of 65", {"type": "t" * 65, "message": "m"},
        "$.type", "maxLength"),
    Bad("http/notification.request.json", "empty message", {"type": "t", "message": ""},
        "$.message", "minLength"),
    Bad("http/notification.request.json", "message of 5,001",
        {"type": "t", "message": "m" * 5001}, "$.message", "maxLength"),
    Bad("http/notification.request.json", "unknown member",
        {"type": "t", "message": "m", "taskId": "t"}, "$", "additionalProperties"),
]
