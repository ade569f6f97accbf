"""The assembled server over the wire, with python-socketio's client: the seed's flow over
WebSocket, polling and polling→WebSocket upgrade, presence of two users, and backend events
through the admin API. (Rule-by-rule checks over the network are the conformance suite's job.)"""

from __future__ import annotations

import queue
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import socketio
from server_process import SECRET, Server, running
from taskchat.reference_server.auth import make_token

TIMEOUT = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("srv"), "--typing-timeout", "0.5") as srv:
        yield srv


class Admin:
    def __init__(self, url: str) -> None:
        self.url = url
        self.headers = {"Authorization": "Bearer " + make_token(SECRET, "root", admin=True)}

    def __call__(self, method: str, path: str, body: object = None) -> requests.Response:
        return requests.request(method, self.url + path, json=body, headers=self.headers, timeout=5)


class Client:
    """A python-socketio client whose received events land in a queue."""

    def __init__(self, url: str, uid: str, transports: list[str]) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.sio.on("*", lambda event, data: self.events.put((event, data)))
        self.sio.connect(
            url, auth={"token": make_token(SECRET, uid, name=f"{uid.title()} Test")},
            transports=transports, wait_timeout=TIMEOUT,
        )

    def call(self, event: str, data: object) -> Any:
        return self.sio.call(event, data, timeout=TIMEOUT)

    def next(self, event: str) -> Any:
        """The next event of that name; events of other names in between are skipped."""
        while True:
            name, data = self.events.get(timeout=TIMEOUT)
            if name == event:
                return data

    def drain(self) -> list[str]:
        names = []
        while not self.events.empty():
            names.append(self.events.get_nowait()[0])
        return names

    def close(self) -> None:
        self.sio.disconnect()


def setup_task(admin: Admin, task: str, members: dict[str, str]) -> None:
    assert admin("POST", "/api/tasks", {"taskId": task, "title": task}).status_code == 201
    for uid, role in members.items():
        assert admin("PUT", f"/api/tasks/{task}/members/{uid}", {"role": role}).status_code == 200


@pytest.mark.parametrize(
    "transports", [["websocket"], ["polling"], ["polling", "websocket"]], ids=["ws", "polling", "upgrade"]
)
def test_the_seed_flow(server: Server, transports: list[str]) -> None:
    tag = "-".join(transports)
    task = f"seed-{tag}"
    admin = Admin(server.url)
    ann, bob = f"ann-{tag}", f"bob-{tag}"
    setup_task(admin, task, {ann: "owner", bob: "member"})
    a = Client(server.url, ann, transports)
    b = Client(server.url, bob, transports)
    try:
        ack = a.call("join_task", task)
        assert ack["ok"] is True and [u["userId"] for u in ack["onlineUsers"]] == [ann]
        ack = b.call("join_task", task)
        assert {u["userId"] for u in ack["onlineUsers"]} == {ann, bob}
        assert a.next("user_joined")["userId"] == bob

        assert b.call("typing_start", {"taskId": task}) == {"ok": True}
        assert a.next("user_typing") == {"taskId": task, "userId": bob, "userName": f"{bob.title()} Test"}
        sent = b.call("send_message", {"taskId": task, "message": " hello ", "clientMessageId": "c1"})
        assert sent["ok"] is True and sent["message"]["message"] == "hello"
        assert a.next("user_stopped_typing") == {"taskId": task, "userId": bob}
        assert a.next("new_message")["message"] == sent["message"]
        assert b.next("new_message")["message"]["id"] == sent["message"]["id"]  # sender included
        mid = sent["message"]["id"]

        edited = b.call("edit_message", {"taskId": task, "messageId": mid, "newMessage": "hi"})
        assert edited["ok"] is True and edited["message"]["is_edited"] is True
        assert a.next("message_edited")["message"]["message"] == "hi"
        refused = b.call("send_message", {"taskId": task, "message": ""})
        assert refused["ok"] is False and refused["error"]["code"] == "INVALID_PAYLOAD"
        assert b.next("error")["code"] == "INVALID_PAYLOAD"
        assert a.call("delete_message", {"taskId": task, "messageId": mid}) == {"ok": True, "messageId": mid}
        assert b.next("message_deleted") == {"taskId": task, "messageId": mid}

        if transports == ["polling", "websocket"]:
            assert b.sio.transport() == "websocket"  # the upgrade happened

        assert b.call("leave_task", task)["ok"] is True
        assert a.next("user_left")["userId"] == bob
    finally:
        a.close()
        b.close()


def test_typing_expires_on_the_server(server: Server) -> None:
    admin = Admin(server.url)
    setup_task(admin, "typing", {"tia": "member", "tom": "member"})
    t1, t2 = Client(server.url, "tia", ["websocket"]), Client(server.url, "tom", ["websocket"])
    try:
        t1.call("join_task", "typing")
        t2.call("join_task", "typing")
        t1.call("typing_start", {"taskId": "typing"})
        assert t2.next("user_typing")["userId"] == "tia"
        assert t2.next("user_stopped_typing") == {"taskId": "typing", "userId": "tia"}  # 0.5 s
    finally:
        t1.close()
        t2.close()


def test_backend_events_and_removal_through_the_admin_api(server: Server) -> None:
    admin = Admin(server.url)
    setup_task(admin, "backend", {"ola": "owner", "max": "member"})
    o, m = Client(server.url, "ola", ["websocket"]), Client(server.url, "max", ["websocket"])
    try:
        o.call("join_task", "backend")
        m.call("join_task", "backend")
        assert admin("POST", "/api/tasks/backend/notifications", {"type": "due", "message": "Soon"}).status_code == 202
        assert m.next("task_notification")["message"] == "Soon"
        assert admin("PATCH", "/api/tasks/backend", {"status": "done"}).status_code == 200
        assert o.next("task_updated")["changes"] == {"status": "done"}
        assert admin("PUT", "/api/tasks/backend/members/max", {"role": "viewer"}).status_code == 200
        assert m.next("member_changed")["action"] == "updated"
        refused = m.call("send_message", {"taskId": "backend", "message": "x"})
        assert refused["error"]["code"] == "FORBIDDEN"  # the lowered role, at once
        assert admin("DELETE", "/api/tasks/backend/members/max").status_code == 204
        assert m.next("member_changed")["action"] == "removed"
        assert o.next("user_left")["userId"] == "max"
        o.call("send_message", {"taskId": "backend", "message": "after"})
        o.next("new_message")
        assert "new_message" not in m.drain()  # evicted: nothing more from the room
        page = requests.get(
            server.url + "/api/tasks/backend/messages",
            headers={"Authorization": "Bearer " + make_token(SECRET, "ola")}, timeout=5,
        ).json()
        assert [x["message"] for x in page["messages"]] == ["after"]
    finally:
        o.close()
        m.close()


def test_a_bad_token_is_refused_with_its_code(server: Server) -> None:
    for token, code in [("not-a-jwt", "AUTH_INVALID"), ("", "AUTH_REQUIRED")]:
        sio = socketio.Client(reconnection=False)
        refusals: queue.Queue[Any] = queue.Queue()
        sio.on("connect_error", refusals.put)
        with pytest.raises(socketio.exceptions.ConnectionError):
            sio.connect(server.url, auth={"token": token}, transports=["websocket"], wait_timeout=TIMEOUT)
        data = refusals.get(timeout=TIMEOUT)
        assert data["data"] == {"code": code} and data["message"]
        sio.disconnect()


def test_serve_announces_the_same_url_in_its_ready_file_and_stdout(tmp_path: Path) -> None:
    """(``running`` checks the ready file against the printed line.)"""
    with running(tmp_path) as srv:
        assert requests.get(srv.url + "/healthz", timeout=5).json() == {"status": "ok"}


def test_demo_sets_up_a_task_whose_tokens_work(server: Server) -> None:
    import subprocess

    from server_process import CLI

    out = subprocess.run([*CLI, "demo", "--url", server.url, "--jwt-secret", SECRET,
                          "--task-id", "demo-test"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    tokens = dict(re.findall(r"^(\w+) +token: (\S+)$", out.stdout, re.MULTILINE))
    assert set(tokens) == {"owner", "admin", "member", "viewer"}
    assert 'io("' + server.url in out.stdout and "join_task" in out.stdout
    sio = socketio.Client(reconnection=False)
    sio.connect(server.url, auth={"token": tokens["viewer"]}, transports=["websocket"],
                wait_timeout=TIMEOUT)
    try:
        ack = sio.call("join_task", "demo-test", timeout=TIMEOUT)
        assert ack["ok"] is True
        refused = sio.call("send_message", {"taskId": "demo-test", "message": "x"}, timeout=TIMEOUT)
        assert refused["error"]["code"] == "FORBIDDEN"  # the viewer's token is a viewer's
    finally:
        sio.disconnect()


def test_protocol_test_mode_serves_without_a_secret(tmp_path: Path) -> None:
    import json
    import subprocess
    import time

    from server_process import CLI

    ready = tmp_path / "ready.json"
    proc = subprocess.Popen([*CLI, "serve", "--protocol-test-mode", "--port", "0", "--ready-file",
                             str(ready)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        url = json.loads(ready.read_text())["url"]
        r = requests.get(url + "/socket.io/?EIO=4&transport=polling", timeout=5)
        assert r.status_code == 200 and r.text.startswith("0{")
    finally:
        proc.kill()
        proc.wait()


def test_serve_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    import os
    import subprocess

    from server_process import CLI

    env = {k: v for k, v in os.environ.items() if k != "TASKCHAT_JWT_SECRET"}
    out = subprocess.run([*CLI, "serve", "--port", "0", "--db", ":memory:"], capture_output=True,
                         text=True, timeout=30, env=env)
    assert out.returncode == 2 and "--jwt-secret" in out.stderr
