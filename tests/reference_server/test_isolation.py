"""Issue 11's three failures, each reproduced as the issue found it and shown fixed (ISO-1..3):
a lone surrogate that failed a whole group commit, a deleted database file that was still
acknowledged onto, and a token whose ``exp`` was a string."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
import trio
from server_process import SECRET, start, stop
from taskchat.reference_server.app import ChatApp
from taskchat.reference_server.auth import AuthFailure, Verifier, make_token
from taskchat.reference_server.chat import ChatRules, Identity, Member, Task
from taskchat.reference_server.config import ServerConfig
from taskchat.reference_server.socketio_server import Ack, SocketRef
from taskchat.reference_server.store import Store
from taskchat.schemas import ErrorCode, Event

SURROGATE = "\ud800"
# every text field of every client event that reaches the store, poisoned once each
POISONED = [
    (Event.SEND_MESSAGE, {"taskId": "t1", "message": f"hi {SURROGATE}"}),
    (Event.SEND_MESSAGE, {"taskId": "t1", "message": "hi", "clientMessageId": SURROGATE}),
    (Event.SEND_MESSAGE, {"taskId": "t1", "message": "hi", "attachments": [
        {"name": f"a{SURROGATE}.txt", "url": "https://example.com/a", "size": 1,
         "mime_type": "text/plain"}]}),
    (Event.SEND_MESSAGE, {"taskId": "t1", "message": "hi", SURROGATE: 1}),
    (Event.EDIT_MESSAGE, {"taskId": "t1", "messageId": "m0", "newMessage": SURROGATE + "x"}),
    (Event.DELETE_MESSAGE, {"taskId": "t1", "messageId": SURROGATE}),
    (Event.JOIN_TASK, SURROGATE),
]


def _app(tmp_path: Path) -> ChatApp:
    store = Store(str(tmp_path / "iso.sqlite3"))
    members = {u: Member(u, u, "member") for u in ("eve", "ann", "bob")}
    tasks = [Task("t1", "One", members=dict(members)), Task("t2", "Two", members=dict(members))]
    rules = ChatRules(store, tasks=tasks, rate_limit=1000)
    class Quiet:
        def emit(self, *_a: Any) -> None: ...

    app = ChatApp(ServerConfig(jwt_secret=SECRET), store, rules, Verifier(secret=SECRET), Quiet())
    for sid, uid, task in (("e", "eve", "t1"), ("a", "ann", "t1"), ("b", "bob", "t2")):
        rules.connect(sid, Identity(uid, uid, uid, ""))
        app.enqueue(rules.handle_event(sid, Event.JOIN_TASK, [task], 0.0))
    send = rules.handle_event("e", Event.SEND_MESSAGE, [{"taskId": "t1", "message": "m0"}], 0.0)
    app.enqueue(send)
    store.commit_pending()
    app.drain()
    return app


def _sock(sid: str) -> SocketRef:
    return SocketRef(sid, "/", "websocket", "127.0.0.1:1")


def test_a_lone_surrogate_fails_alone_and_honest_sends_in_the_same_commit_are_kept(
    tmp_path: Path,
) -> None:
    app = _app(tmp_path)
    m0 = app.store.history("t1").messages[0]["id"]  # the id of the message "m0", to edit
    acks: dict[str, Any] = {}

    def ack(key: str) -> Ack:
        return Ack(1, lambda _i, args: acks.__setitem__(key, args[0]))

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(app.store.run_committer, app.drain)
            await trio.sleep(0)
            # submitted in one scheduler pass: all but the first share one group commit
            for i, (event, payload) in enumerate(POISONED):
                if isinstance(payload, dict) and payload.get("messageId") == "m0":
                    payload = {**payload, "messageId": m0}
                app.on_event(_sock("e"), event, [payload], ack(f"eve{i}"))
                for sid, task in (("a", "t1"), ("b", "t2")):
                    honest = {"taskId": task, "message": f"{sid} {i}"}
                    app.on_event(_sock(sid), Event.SEND_MESSAGE, [honest], ack(f"{sid}{i}"))
            with trio.fail_after(10):
                while not (app.store.idle and len(acks) == 3 * len(POISONED)):
                    await trio.sleep(0.005)
            nursery.cancel_scope.cancel()

    trio.run(main)
    honest_failed = [k for k, a in acks.items() if k[0] in "ab" and a["ok"] is not True]
    assert honest_failed == [], {k: acks[k] for k in honest_failed}
    for i in range(len(POISONED)):
        assert acks[f"eve{i}"]["error"]["code"] == ErrorCode.INVALID_PAYLOAD, acks[f"eve{i}"]
    stored = {m["message"] for t in ("t1", "t2") for m in app.store.history(t, 100).messages}
    assert stored == {"m0"} | {f"{sid} {i}" for sid in "ab" for i in range(len(POISONED))}
    app.store.close()


@pytest.mark.parametrize("claims", [
    {"exp": "9999999999"}, {"exp": True}, {"nbf": "0"}, {"iat": "1"}, {"iat": [1]},
    {"exp": None}, {"name": f"Eve {SURROGATE}"}, {"first_name": SURROGATE}, {SURROGATE: "x"},
])
def test_a_token_with_a_non_numeric_date_or_invalid_text_is_auth_invalid(
    claims: dict[str, Any],
) -> None:
    token = make_token(SECRET, "eve", ttl=None, extra=claims)
    with pytest.raises(AuthFailure) as refused:
        Verifier(secret=SECRET).verify(token)
    assert refused.value.code == ErrorCode.AUTH_INVALID


def test_numeric_dates_still_work() -> None:
    v = Verifier(secret=SECRET)
    assert v.verify(make_token(SECRET, "eve", extra={"nbf": 1.5})).user_id == "eve"
    with pytest.raises(AuthFailure) as expired:
        v.verify(make_token(SECRET, "eve", ttl=-10))
    assert expired.value.code == ErrorCode.AUTH_EXPIRED


def _admin(url: str, method: str, path: str, body: object = None) -> requests.Response:
    token = make_token(SECRET, "root", admin=True)
    return requests.request(method, url + path, json=body, timeout=5,
                            headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_deleted_database_file_is_not_acknowledged_onto(tmp_path: Path, how: str) -> None:
    db = str(tmp_path / "gone.sqlite3")
    srv = start(tmp_path, db)
    sio = socketio.Client(reconnection=False)
    try:
        assert _admin(srv.url, "POST", "/api/tasks", {"taskId": "g1", "title": "Gone"}).status_code == 201
        assert _admin(srv.url, "PUT", "/api/tasks/g1/members/u1", {"role": "member"}).status_code == 200
        sio.connect(srv.url, auth={"token": make_token(SECRET, "u1")}, transports=["websocket"],
                    wait_timeout=5)
        sio.call("join_task", "g1", timeout=5)
        kept = sio.call("send_message", {"taskId": "g1", "message": "before"}, timeout=5)
        assert kept["ok"] is True
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        if how == "replaced":
            Path(db).write_bytes(b"")
        lost = sio.call("send_message", {"taskId": "g1", "message": "after"}, timeout=5)
        assert lost["ok"] is False and lost["error"]["code"] == ErrorCode.INTERNAL, lost
        assert "database file" in lost["error"]["message"]
        health = requests.get(srv.url + "/healthz", timeout=5)
        assert health.status_code == 503
        assert how in health.json()["error"]["message"]
        # reads keep working on the file the server still has open
        history = requests.get(srv.url + "/api/tasks/g1/messages", timeout=5,
                               headers={"Authorization": "Bearer " + make_token(SECRET, "u1")})
        assert [m["message"] for m in history.json()["messages"]] == ["before"]
        retry = sio.call("send_message", {"taskId": "g1", "message": "again"}, timeout=5)
        assert retry["ok"] is False  # stays refused: nothing is acknowledged onto a lost file
        created = _admin(srv.url, "POST", "/api/tasks", {"taskId": "g2", "title": "Lost"})
        assert created.status_code == 500, created.text  # the admin API is not told "201"
        sio.disconnect()
        srv.proc.send_signal(signal.SIGTERM)
        log = srv.proc.stderr.read().decode()  # type: ignore[union-attr]  # until it exits
    finally:
        if sio.connected:
            sio.disconnect()
        stop(srv, signal.SIGKILL)
    assert "ERROR" in log and "event=store_unavailable" in log, log
