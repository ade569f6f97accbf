"""A lenient but contract-correct task-chat server, for showing the suite raises no false alarm.

Written from CONTRACT.md alone on python-socketio's AsyncServer under uvicorn, sharing nothing
with the reference server: it does what the contract requires and nothing stricter. It ignores
unknown properties, reads ``null`` as absent, sets no limit the contract does not (attachment
names and URLs of any length, URLs with spaces, clientMessageIds of any length), sends
contract-minimal error events (no ``event``/``taskId``), clamps history's ``limit``, has no
rate limit, answers a malformed packet with an `error` event and keeps the session open,
refuses an unknown namespace in python-socketio's words, and resets the TCP connection of a
polling POST over maxPayload. So the suite must pass it on every MUST and warn on the SHOULDs.
Test code only.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import socket
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote

import jwt
import socketio
from uvicorn.protocols.http.h11_impl import H11Protocol

from tests.client.client_sio_server import read_body, serve_asgi

MAX_PAYLOAD = 1_000_000
TYPING_TIMEOUT = 5.0
ROLES = ("owner", "admin", "member", "viewer")
_URL = re.compile(r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]")
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class AnsweringServer(socketio.AsyncServer):
    """Answers a malformed Socket.IO packet with an ``error`` event and keeps the session, where
    socket.io's server closes it: the contract needs only the other sessions to go on."""

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError as exc:  # a packet that does not decode, or of an unknown type
            sid = self.manager.sid_from_eio_sid(eio_sid, "/")
            if sid is not None:
                await self.emit("error", {"message": f"malformed packet: {exc}",
                                          "code": "INVALID_PAYLOAD"}, to=sid)


class ResettingH11(H11Protocol):
    """Resets (TCP RST) a connection whose request announces a body over maxPayload: what a
    server behind a strict proxy does, and what Engine.IO allows."""

    def data_received(self, data: bytes) -> None:
        head = data.split(b"\r\n\r\n", 1)[0]
        found = _CONTENT_LENGTH.search(head)
        if head.startswith(b"POST ") and found and int(found.group(1)) > MAX_PAYLOAD:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()
            return
        super().data_received(data)


@dataclass
class Task:
    title: str
    members: dict[str, dict[str, str]] = field(default_factory=dict)  # user -> role, userName
    messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Sock:
    user: str
    name: str
    first: str
    last: str
    avatar: str | None
    rooms: set[str] = field(default_factory=set)


def _has_bytes(value: Any) -> bool:  # the suite's own is not imported: this server is separate
    if isinstance(value, bytes | bytearray):
        return True
    if isinstance(value, dict):
        return any(_has_bytes(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_bytes(v) for v in value)
    return False


def _id(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 128


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise Refused("INVALID_PAYLOAD", "the text must be a string")
    text = value.strip()
    if not text or len(text) > 5000:
        raise Refused("INVALID_PAYLOAD", "the text must hold 1 to 5000 characters")
    return text


def _obj(args: tuple[Any, ...], *ids: str) -> dict[str, Any]:
    if len(args) != 1 or not isinstance(args[0], dict) or _has_bytes(args[0]):
        raise Refused("INVALID_PAYLOAD", "expected one JSON object")
    payload: dict[str, Any] = args[0]
    for key in ids:
        if not _id(payload.get(key)):
            raise Refused("INVALID_PAYLOAD", f"{key} must be an id")
    return payload


def _attachments(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > 10:
        raise Refused("INVALID_PAYLOAD", "attachments: a list of at most 10")
    out = []
    for att in value:
        if not isinstance(att, dict) or not isinstance(att.get("name"), str):
            raise Refused("INVALID_PAYLOAD", "an attachment needs a name")
        url = att.get("url")
        if not isinstance(url, str) or not _URL.match(url):
            raise Refused("INVALID_PAYLOAD", "an attachment url must be http(s)")
        kept: dict[str, Any] = {"name": att["name"], "url": url}
        size, mime = att.get("size"), att.get("mime_type")
        if size is not None:
            if not isinstance(size, int) or isinstance(size, bool):
                raise Refused("INVALID_PAYLOAD", "size must be an integer")
            kept["size"] = size
        if mime is not None:
            if not isinstance(mime, str):
                raise Refused("INVALID_PAYLOAD", "mime_type must be a string")
            kept["mime_type"] = mime
        out.append(kept)
    return out


class LenientServer:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        quiet = logging.getLogger("lenient_server")  # the bad input it is sent is on purpose
        quiet.setLevel(logging.CRITICAL)
        self.sio = AnsweringServer(async_mode="asgi", async_handlers=False,
                                        max_http_buffer_size=MAX_PAYLOAD, logger=quiet,
                                        engineio_logger=quiet)
        self.tasks: dict[str, Task] = {}
        self.socks: dict[str, Sock] = {}
        self.presence: dict[str, dict[str, dict[str, Any]]] = {}  # task -> user -> sids, joinedAt
        self.typing: dict[tuple[str, str], tuple[str, asyncio.Task[None]]] = {}
        self.by_cmid: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.ids = itertools.count(1)
        self._register()

    # -- tokens ---------------------------------------------------------------------------

    def claims(self, token: Any) -> dict[str, Any]:
        if token is None or token == "":
            raise Refused("AUTH_REQUIRED", "a token is required")
        if not isinstance(token, str):
            raise Refused("AUTH_INVALID", "the token must be a string")
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"],
                                options={"require": ["sub"]})
        except jwt.ExpiredSignatureError:
            raise Refused("AUTH_EXPIRED", "the token has expired") from None
        except jwt.PyJWTError as exc:
            raise Refused("AUTH_INVALID", f"bad token: {exc}") from None
        if not isinstance(claims.get("sub"), str):
            raise Refused("AUTH_INVALID", "sub must be a string")
        return claims

    # -- room helpers ---------------------------------------------------------------------

    async def emit(self, event: str, payload: Any, task: str, skip: str | None = None) -> None:
        await self.sio.emit(event, payload, room=task, skip_sid=skip)

    def task_of(self, payload_task: str, sid: str, *, joined: bool = True,
                comment: bool = False) -> Task:
        task = self.tasks.get(payload_task)
        if task is None:
            raise Refused("TASK_NOT_FOUND", "no such task")
        member = task.members.get(self.socks[sid].user)
        if member is None:
            raise Refused("FORBIDDEN", "not a member")
        if joined and payload_task not in self.socks[sid].rooms:
            raise Refused("NOT_JOINED", "join the task first")
        if comment and member["role"] == "viewer":
            raise Refused("FORBIDDEN", "viewers may not comment")
        return task

    async def stop_typing(self, task: str, user: str, skip: str | None) -> None:
        entry = self.typing.pop((task, user), None)
        if entry is not None:
            entry[1].cancel()
            await self.emit("user_stopped_typing", {"taskId": task, "userId": user}, task, skip)

    async def leave(self, sid: str, task: str) -> None:
        sock = self.socks[sid]
        if task not in sock.rooms:
            return
        sock.rooms.discard(task)
        await self.sio.leave_room(sid, task)
        users = self.presence.get(task, {})
        entry = users.get(sock.user)
        if entry is None:
            return
        entry["sids"].discard(sid)
        if not entry["sids"]:
            del users[sock.user]
            await self.stop_typing(task, sock.user, sid)
            await self.emit("user_left", {"taskId": task, "userId": sock.user,
                                          "userName": sock.name, "timestamp": _now()}, task, sid)

    def message(self, sock: Sock, task: str, text: str, atts: list[dict[str, Any]],
                reply: Any, cmid: Any) -> dict[str, Any]:
        now = _now()
        return {"id": f"lm-{next(self.ids)}", "task_id": task, "user_id": sock.user,
                "first_name": sock.first, "last_name": sock.last, "avatar_url": sock.avatar,
                "message": text, "attachments": atts, "reply_to": reply,
                "client_message_id": cmid, "created_at": now, "updated_at": now,
                "is_edited": False}

    @staticmethod
    def find(task: Task, message_id: Any) -> dict[str, Any] | None:
        return next((m for m in task.messages if m["id"] == message_id), None)

    # -- events ---------------------------------------------------------------------------

    def _register(self) -> None:
        sio = self.sio

        @sio.event
        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
            try:
                claims = self.claims(auth.get("token") if isinstance(auth, dict) else None)
            except Refused as exc:
                raise socketio.exceptions.ConnectionRefusedError(
                    exc.message, {"code": exc.code}) from None
            name = claims.get("name")
            if isinstance(name, str):
                first, _, last = name.partition(" ")
            else:
                first = str(claims.get("first_name") or "")
                last = str(claims.get("last_name") or "")
                name = " ".join(p for p in (first, last) if p)
            avatar = claims.get("avatar_url")
            self.socks[sid] = Sock(claims["sub"], name, first, last,
                                   avatar if isinstance(avatar, str) else None)

        @sio.event
        async def disconnect(sid: str, *_reason: Any) -> None:
            sock = self.socks.get(sid)
            if sock is None:
                return
            for task in list(sock.rooms):
                await self.leave(sid, task)
            del self.socks[sid]

        def handler(event: str) -> Any:
            def wrap(func: Any) -> Any:
                async def run(sid: str, *args: Any) -> Any:
                    try:
                        return await func(sid, *args)
                    except Refused as exc:
                        await sio.emit("error", {"message": exc.message, "code": exc.code},
                                       to=sid)
                        return {"ok": False, "error": {"code": exc.code, "message": exc.message}}
                sio.on(event)(run)
                return run
            return wrap

        @handler("join_task")
        async def join_task(sid: str, *args: Any) -> Any:
            if len(args) != 1 or not _id(args[0]):
                raise Refused("INVALID_PAYLOAD", "join_task takes a task id")
            task_id = args[0]
            self.task_of(task_id, sid, joined=False)
            sock = self.socks[sid]
            users = self.presence.setdefault(task_id, {})
            if task_id not in sock.rooms:
                sock.rooms.add(task_id)
                await sio.enter_room(sid, task_id)
                first = sock.user not in users
                entry = users.setdefault(sock.user, {"sids": set(), "joinedAt": _now(),
                                                     "userName": sock.name})
                entry["sids"].add(sid)
                if first:
                    await self.emit("user_joined", {"taskId": task_id, "userId": sock.user,
                                                    "userName": sock.name,
                                                    "timestamp": entry["joinedAt"]}, task_id, sid)
            online = [{"userId": u, "userName": e["userName"], "joinedAt": e["joinedAt"]}
                      for u, e in users.items()]
            return {"ok": True, "taskId": task_id, "onlineUsers": online}

        @handler("leave_task")
        async def leave_task(sid: str, *args: Any) -> Any:
            if len(args) != 1 or not _id(args[0]):
                raise Refused("INVALID_PAYLOAD", "leave_task takes a task id")
            await self.leave(sid, args[0])
            return {"ok": True, "taskId": args[0]}

        @handler("send_message")
        async def send_message(sid: str, *args: Any) -> Any:
            p = _obj(args, "taskId")
            text = _text(p.get("message"))
            atts = _attachments(p.get("attachments"))
            reply, cmid = p.get("replyTo"), p.get("clientMessageId")
            if reply is not None and not _id(reply):
                raise Refused("INVALID_PAYLOAD", "replyTo must be an id")
            if cmid is not None and not isinstance(cmid, str):
                raise Refused("INVALID_PAYLOAD", "clientMessageId must be a string")
            task = self.task_of(p["taskId"], sid, comment=True)
            sock = self.socks[sid]
            if cmid is not None and (sock.user, p["taskId"], cmid) in self.by_cmid:
                return {"ok": True, "message": self.by_cmid[(sock.user, p["taskId"], cmid)]}
            if reply is not None and self.find(task, reply) is None:
                raise Refused("MESSAGE_NOT_FOUND", "replyTo names no message of this task")
            msg = self.message(sock, p["taskId"], text, atts, reply, cmid)
            task.messages.append(msg)
            if cmid is not None:
                self.by_cmid[(sock.user, p["taskId"], cmid)] = msg
            await self.stop_typing(p["taskId"], sock.user, sid)
            await self.emit("new_message", {"taskId": p["taskId"], "message": msg}, p["taskId"])
            return {"ok": True, "message": msg}

        @handler("edit_message")
        async def edit_message(sid: str, *args: Any) -> Any:
            p = _obj(args, "taskId", "messageId")
            text = _text(p.get("newMessage"))
            task = self.task_of(p["taskId"], sid, comment=True)
            msg = self.find(task, p["messageId"])
            if msg is None or msg.get("is_deleted"):
                raise Refused("MESSAGE_NOT_FOUND", "no such message")
            if msg["user_id"] != self.socks[sid].user:
                raise Refused("FORBIDDEN", "only the author may edit")
            msg.update(message=text, is_edited=True, updated_at=_now())
            await self.emit("message_edited", {"taskId": p["taskId"], "message": msg},
                            p["taskId"])
            return {"ok": True, "message": msg}

        @handler("delete_message")
        async def delete_message(sid: str, *args: Any) -> Any:
            p = _obj(args, "taskId", "messageId")
            task = self.task_of(p["taskId"], sid)
            role = task.members[self.socks[sid].user]["role"]
            if role == "viewer":
                raise Refused("FORBIDDEN", "viewers may not delete")
            msg = self.find(task, p["messageId"])
            if msg is None or msg.get("is_deleted"):
                raise Refused("MESSAGE_NOT_FOUND", "no such message")
            if msg["user_id"] != self.socks[sid].user and role not in ("owner", "admin"):
                raise Refused("FORBIDDEN", "not yours to delete")
            msg.update(is_deleted=True, deleted_at=_now())
            await self.emit("message_deleted", {"taskId": p["taskId"],
                                                "messageId": p["messageId"]}, p["taskId"])
            return {"ok": True, "messageId": p["messageId"]}

        @handler("typing_start")
        async def typing_start(sid: str, *args: Any) -> Any:
            p = _obj(args, "taskId")
            self.task_of(p["taskId"], sid, comment=True)
            sock, key = self.socks[sid], (p["taskId"], self.socks[sid].user)
            entry = self.typing.get(key)
            if entry is not None:
                entry[1].cancel()
            else:
                await self.emit("user_typing", {"taskId": p["taskId"], "userId": sock.user,
                                                "userName": sock.name}, p["taskId"], sid)
            self.typing[key] = (sid, asyncio.create_task(self._expire(key, sid)))
            return {"ok": True}

        @handler("typing_stop")
        async def typing_stop(sid: str, *args: Any) -> Any:
            p = _obj(args, "taskId")
            self.task_of(p["taskId"], sid)
            await self.stop_typing(p["taskId"], self.socks[sid].user, sid)
            return {"ok": True}

        @sio.on("*")
        async def unknown(event: str, sid: str, *args: Any) -> Any:
            await sio.emit("error", {"message": f"unknown event {event}",
                                     "code": "UNKNOWN_EVENT"}, to=sid)
            return {"ok": False, "error": {"code": "UNKNOWN_EVENT", "message": "unknown event"}}

    async def _expire(self, key: tuple[str, str], sid: str) -> None:
        await asyncio.sleep(TYPING_TIMEOUT)
        if self.typing.get(key, (None,))[0] == sid:
            del self.typing[key]
            await self.emit("user_stopped_typing", {"taskId": key[0], "userId": key[1]},
                            key[0], sid)

    # -- HTTP -----------------------------------------------------------------------------

    async def http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        parts = [unquote(p) for p in scope["raw_path"].decode().split("?")[0].split("/") if p]
        query = parse_qs(scope.get("query_string", b"").decode())
        try:
            status, answer = await self.route(scope["method"], parts, query, headers, body)
        except Refused as exc:
            status = {"AUTH_REQUIRED": 401, "AUTH_INVALID": 401, "AUTH_EXPIRED": 401,
                      "FORBIDDEN": 403, "TASK_NOT_FOUND": 404, "NOT_FOUND": 404,
                      "MESSAGE_NOT_FOUND": 404, "CONFLICT": 409}.get(exc.code, 400)
            answer = {"error": {"code": exc.code, "message": exc.message}}
        data = b"" if answer is None else json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": data})

    def bearer(self, headers: dict[str, str], admin: bool) -> dict[str, Any]:
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            raise Refused("AUTH_REQUIRED", "a bearer token is required")
        claims = self.claims(auth[len("Bearer "):])
        if admin and claims.get("admin") is not True:
            raise Refused("FORBIDDEN", "an admin token is required")
        return claims

    async def route(self, method: str, parts: list[str], query: dict[str, list[str]],
                    headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if parts == ["healthz"] and method == "GET":
            return 200, {"status": "ok"}
        if parts[:2] != ["api", "tasks"]:
            raise Refused("NOT_FOUND", "no such route")
        rest = parts[2:]
        if len(rest) == 2 and rest[1] == "messages" and method == "GET":
            return self.history(rest[0], query, self.bearer(headers, admin=False))
        claims = self.bearer(headers, admin=True)
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            raise Refused("INVALID_PAYLOAD", "the body must be JSON") from None
        if not isinstance(data, dict):
            raise Refused("INVALID_PAYLOAD", "the body must be an object")
        if not rest and method == "POST":
            title, task_id = data.get("title"), data.get("taskId") or f"lt-{next(self.ids)}"
            if not isinstance(title, str) or not title or not _id(task_id):
                raise Refused("INVALID_PAYLOAD", "a title is required")
            if task_id in self.tasks:
                raise Refused("CONFLICT", "the task exists")
            self.tasks[task_id] = Task(title)
            return 201, {"taskId": task_id, "title": title}
        if not rest:
            raise Refused("NOT_FOUND", "no such route")
        task = self.tasks.get(rest[0])
        if task is None:
            raise Refused("TASK_NOT_FOUND", "no such task")
        task_id = rest[0]
        if len(rest) == 1 and method == "PATCH":
            if not data:
                raise Refused("INVALID_PAYLOAD", "no changes")
            if isinstance(data.get("title"), str):
                task.title = data["title"]
            await self.emit("task_updated", {"taskId": task_id, "changes": data,
                                             "updatedBy": claims["sub"], "timestamp": _now()},
                            task_id)
            return 200, {"taskId": task_id, "title": task.title}
        if len(rest) == 2 and rest[1] == "notifications" and method == "POST":
            kind, text = data.get("type"), data.get("message")
            if not isinstance(kind, str) or not kind or not isinstance(text, str) or not text:
                raise Refused("INVALID_PAYLOAD", "type and message are required")
            event = {"taskId": task_id, "type": kind, "message": text, "timestamp": _now()}
            if isinstance(data.get("data"), dict):
                event["data"] = data["data"]
            await self.emit("task_notification", event, task_id)
            return 202, {"taskId": task_id, "delivered": True}
        if len(rest) == 3 and rest[1] == "members":
            return await self.member(task_id, task, rest[2], method, data)
        raise Refused("NOT_FOUND", "no such route")

    async def member(self, task_id: str, task: Task, user: str, method: str,
                     data: dict[str, Any]) -> tuple[int, Any]:
        if method == "PUT":
            role = data.get("role")
            if role not in ROLES:
                raise Refused("INVALID_PAYLOAD", "role must be owner, admin, member or viewer")
            old = task.members.get(user)
            name = data.get("userName") if isinstance(data.get("userName"), str) else None
            member = {"userId": user, "userName": name or (old or {}).get("userName") or user,
                      "role": role}
            task.members[user] = member
            await self.emit("member_changed", {"taskId": task_id,
                                               "action": "updated" if old else "added",
                                               "member": member, "timestamp": _now()}, task_id)
            return 200, member
        if method == "DELETE":
            member = task.members.get(user)
            if member is None:
                raise Refused("FORBIDDEN", "not a member")
            await self.emit("member_changed", {"taskId": task_id, "action": "removed",
                                               "member": member, "timestamp": _now()}, task_id)
            del task.members[user]
            for sid, sock in list(self.socks.items()):
                if sock.user == user:
                    await self.leave(sid, task_id)
            return 204, None
        raise Refused("NOT_FOUND", "no such route")

    def history(self, task_id: str, query: dict[str, list[str]],
                claims: dict[str, Any]) -> tuple[int, Any]:
        task = self.tasks.get(task_id)
        if task is None:
            raise Refused("TASK_NOT_FOUND", "no such task")
        if claims["sub"] not in task.members:
            raise Refused("FORBIDDEN", "not a member")
        try:
            limit = max(1, min(100, int(query.get("limit", ["50"])[0])))
        except ValueError:
            limit = 50  # contract-minimal: a bad limit is the default
        newest = task.messages[::-1]
        before = query.get("before", [None])[0]
        if before is not None:
            at = next((i for i, m in enumerate(newest) if m["id"] == before), None)
            newest = newest[at + 1:] if at is not None else []
        page = [{**m, "message": "", "attachments": []} if m.get("is_deleted") else m
                for m in newest[:limit]]
        return 200, {"taskId": task_id, "messages": page, "hasMore": len(newest) > limit}


@contextmanager
def lenient_server(secret: str) -> Iterator[str]:
    """The server on 127.0.0.1:<ephemeral> in a thread; yields its URL."""
    server = LenientServer(secret)
    app = socketio.ASGIApp(server.sio, other_asgi_app=server.http)
    with serve_asgi(app, http=ResettingH11, log_level="critical") as url:
        yield url
