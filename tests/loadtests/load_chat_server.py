"""A tiny task-chat server that can misbehave on purpose (test code only).

It speaks enough of the protocol for the load scenarios (join, leave, send with clientMessageId,
edit, delete, typing, the admin API for tasks and members) on python-socketio, and with a
``fault`` it drops, duplicates or reorders deliveries, or forgets clientMessageIds - so each of
the load tool's counters can be shown to count.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import jwt
import socketio
import uvicorn

FAULTS = (None, "drop", "duplicate", "reorder", "no_dedupe")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ChatServer:
    def __init__(self, secret: str, fault: str | None = None) -> None:
        assert fault in FAULTS
        self.secret = secret
        self.fault = fault
        self.sio = socketio.AsyncServer(async_mode="asgi")
        self.tasks: dict[str, set[str]] = {}  # task -> member user ids
        self.users: dict[str, dict[str, Any]] = {}  # sid -> claims
        self.by_cmid: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.held: dict[str, dict[str, Any]] = {}  # reorder: a sender's held message
        self.ids = itertools.count(1)
        self.sends = 0
        self._register()

    def _register(self) -> None:
        sio = self.sio

        @sio.event
        async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
            token = auth.get("token") if isinstance(auth, dict) else None
            try:
                claims = jwt.decode(token or "", self.secret, algorithms=["HS256"])
            except jwt.PyJWTError:
                raise socketio.exceptions.ConnectionRefusedError(
                    "bad token", {"code": "AUTH_INVALID"}
                ) from None
            self.users[sid] = claims

        @sio.event
        async def disconnect(sid: str, *args: Any) -> None:
            self.users.pop(sid, None)

        @sio.on("join_task")
        async def join_task(sid: str, task_id: str) -> dict[str, Any]:
            if not self._member(sid, task_id):
                return {"ok": False, "error": {"code": "FORBIDDEN", "message": "not a member"}}
            await sio.enter_room(sid, task_id)
            return {"ok": True, "taskId": task_id, "onlineUsers": []}

        @sio.on("leave_task")
        async def leave_task(sid: str, task_id: str) -> dict[str, Any]:
            await sio.leave_room(sid, task_id)
            return {"ok": True, "taskId": task_id}

        @sio.on("typing_start")
        async def typing_start(sid: str, data: dict[str, Any]) -> dict[str, Any]:
            user = self.users[sid]
            payload = {"taskId": data["taskId"], "userId": user["sub"], "userName": "x"}
            await sio.emit("user_typing", payload, room=data["taskId"], skip_sid=sid)
            return {"ok": True}

        @sio.on("typing_stop")
        async def typing_stop(sid: str, data: dict[str, Any]) -> dict[str, Any]:
            return {"ok": True}

        @sio.on("edit_message")
        async def edit_message(sid: str, data: dict[str, Any]) -> dict[str, Any]:
            return {"ok": True, "message": {"id": data["messageId"]}}

        @sio.on("delete_message")
        async def delete_message(sid: str, data: dict[str, Any]) -> dict[str, Any]:
            return {"ok": True, "messageId": data["messageId"]}

        @sio.on("send_message")
        async def send_message(sid: str, data: dict[str, Any]) -> dict[str, Any]:
            return await self._send(sid, data)

    def _member(self, sid: str, task_id: str) -> bool:
        return self.users.get(sid, {}).get("sub") in self.tasks.get(task_id, set())

    async def _send(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        user = self.users[sid]
        task_id, cmid = data["taskId"], data.get("clientMessageId")
        key = (user["sub"], task_id, cmid or "")
        if cmid and key in self.by_cmid and self.fault != "no_dedupe":
            return {"ok": True, "message": self.by_cmid[key]}
        message = {
            "id": f"m{next(self.ids)}",
            "task_id": task_id,
            "user_id": user["sub"],
            "message": data["message"].strip(),
            "client_message_id": cmid,
            "created_at": _now(),
        }
        if cmid:
            self.by_cmid[key] = message
        self.sends += 1
        event = {"taskId": task_id, "message": message}
        if self.fault == "drop" and self.sends % 2 == 0:
            others = [s for s in self._room_sids(task_id) if s != sid]
            skip = others[0] if others else None  # one member never gets this one
            await self.sio.emit("new_message", event, room=task_id, skip_sid=skip)
        elif self.fault == "duplicate" and self.sends % 2 == 0:
            await self.sio.emit("new_message", event, room=task_id)
            await self.sio.emit("new_message", event, room=task_id)
        elif self.fault == "reorder":
            held = self.held.pop(user["sub"], None)
            if held is None:
                self.held[user["sub"]] = event  # goes out after this sender's next message
            else:
                await self.sio.emit("new_message", event, room=task_id)
                await self.sio.emit("new_message", held, room=task_id)
        else:
            await self.sio.emit("new_message", event, room=task_id)
        return {"ok": True, "message": message}

    def _room_sids(self, task_id: str) -> list[str]:
        return sorted(sid for sid, _ in self.sio.manager.get_participants("/", task_id))

    # -- the admin API (CONTRACT §9, the part the load setup uses) ---------------------------

    async def http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        parts = scope["path"].strip("/").split("/")
        status, answer = 404, {"error": {"code": "NOT_FOUND", "message": scope["path"]}}
        data = json.loads(body) if body else {}
        if scope["method"] == "POST" and parts == ["api", "tasks"]:
            task_id = data.get("taskId") or f"t{next(self.ids)}"
            self.tasks.setdefault(task_id, set())
            status, answer = 201, {"taskId": task_id, "title": data.get("title", "")}
        elif scope["method"] == "PUT" and len(parts) == 5 and parts[3] == "members":
            self.tasks.setdefault(parts[2], set()).add(parts[4])
            status, answer = 200, {"userId": parts[4], "userName": "x", "role": data["role"]}
        elif parts == ["healthz"]:
            status, answer = 200, {"ok": True}
        raw = json.dumps(answer).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": raw})


@contextmanager
def running_chat_server(secret: str, fault: str | None = None) -> Iterator[ChatServer]:
    """The server on 127.0.0.1:<ephemeral>, in a thread; ``server.url`` is its address."""
    server = ChatServer(secret, fault)
    app = socketio.ASGIApp(server.sio, other_asgi_app=server.http)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server.url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # type: ignore[attr-defined]
    config = uvicorn.Config(
        app, ws="wsproto", log_level="warning", lifespan="off", timeout_graceful_shutdown=1
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(uv.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("chat test server did not start")
        time.sleep(0.01)
    try:
        yield server
    finally:
        uv.should_exit = True
        thread.join(5)
        sock.close()
