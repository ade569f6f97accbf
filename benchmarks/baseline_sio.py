"""The baseline for server_bench: python-socketio's AsyncServer under uvicorn doing the same hot
path as the reference server — verify the JWT on connect, join a room, and on send_message
build the message, emit new_message to the room and ack it. No storage: the baseline gets
that for free, the reference server does not.

Run by server_bench as ``uvicorn benchmarks.baseline_sio:app``; the secret comes from the
environment.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import jwt
import socketio

SECRET = os.environ.get("TASKCHAT_JWT_SECRET", "")

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
app = socketio.ASGIApp(sio)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
    token = auth.get("token") if isinstance(auth, dict) else None
    try:
        claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    except Exception as exc:
        raise socketio.exceptions.ConnectionRefusedError({"code": "AUTH_INVALID"}) from exc
    await sio.save_session(sid, claims)


@sio.event
async def join_task(sid: str, task_id: str) -> dict[str, Any]:
    await sio.enter_room(sid, task_id)
    return {"ok": True, "taskId": task_id, "onlineUsers": []}


@sio.event
async def send_message(sid: str, data: dict[str, Any]) -> dict[str, Any]:
    claims = await sio.get_session(sid)
    now = _iso(time.time())
    name = claims.get("name", "")
    first, _, last = name.partition(" ")
    message = {
        "id": uuid.uuid4().hex, "task_id": data["taskId"], "user_id": claims["sub"],
        "first_name": first, "last_name": last, "avatar_url": None,
        "message": data["message"].strip(), "attachments": [], "reply_to": None,
        "client_message_id": data.get("clientMessageId"), "created_at": now, "updated_at": now,
        "is_edited": False,
    }
    await sio.emit("new_message", {"taskId": data["taskId"], "message": message}, room=data["taskId"])
    return {"ok": True, "message": message}
