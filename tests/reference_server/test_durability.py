"""What survives: an acknowledged message outlives a SIGKILL right after its ack (STORE-1), and
SIGTERM ends the server within 2 s with clients connected."""

from __future__ import annotations

import signal
from pathlib import Path

import requests
import socketio
from server_process import SECRET, start, stop
from taskchat.reference_server.auth import make_token


def admin(url: str, method: str, path: str, body: object = None) -> int:
    token = make_token(SECRET, "root", admin=True)
    r = requests.request(method, url + path, json=body, timeout=5,
                         headers={"Authorization": f"Bearer {token}"})
    return r.status_code


def connect(url: str, uid: str) -> socketio.Client:
    sio = socketio.Client(reconnection=False)
    sio.connect(url, auth={"token": make_token(SECRET, uid)}, transports=["websocket"], wait_timeout=5)
    return sio


def test_an_acknowledged_message_survives_sigkill_and_a_retry_is_not_stored_twice(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "durable.sqlite3")
    srv = start(tmp_path, db)
    try:
        assert admin(srv.url, "POST", "/api/tasks", {"taskId": "d1", "title": "Durable"}) == 201
        assert admin(srv.url, "PUT", "/api/tasks/d1/members/u1", {"role": "member"}) == 200
        sio = connect(srv.url, "u1")
        sio.call("join_task", "d1", timeout=5)
        ack = sio.call("send_message", {"taskId": "d1", "message": "keep me", "clientMessageId": "k1"},
                       timeout=5)
        srv.proc.send_signal(signal.SIGKILL)  # no chance to flush anything after the ack
    finally:
        stop(srv, signal.SIGKILL)
    assert ack["ok"] is True

    again = start(tmp_path, db)
    try:
        r = requests.get(again.url + "/api/tasks/d1/messages", timeout=5,
                         headers={"Authorization": "Bearer " + make_token(SECRET, "u1")})
        assert r.status_code == 200
        assert [m["id"] for m in r.json()["messages"]] == [ack["message"]["id"]]
        sio = connect(again.url, "u1")
        sio.call("join_task", "d1", timeout=5)
        retry = sio.call("send_message", {"taskId": "d1", "message": "keep me", "clientMessageId": "k1"},
                         timeout=5)
        assert retry == {"ok": True, "message": ack["message"]}  # the original, across a restart
        sio.disconnect()
    finally:
        stop(again, signal.SIGKILL)


def test_sigterm_exits_within_two_seconds_with_clients_connected(tmp_path: Path) -> None:
    srv = start(tmp_path)
    clients = []
    try:
        assert admin(srv.url, "POST", "/api/tasks", {"taskId": "s1", "title": "Stop"}) == 201
        assert admin(srv.url, "PUT", "/api/tasks/s1/members/u1", {"role": "member"}) == 200
        for transports in (["websocket"], ["polling"]):
            sio = socketio.Client(reconnection=False)
            sio.connect(srv.url, auth={"token": make_token(SECRET, "u1")}, transports=transports,
                        wait_timeout=5)
            sio.call("join_task", "s1", timeout=5)
            clients.append(sio)
        elapsed = stop(srv, signal.SIGTERM)
        assert srv.proc.returncode == 0
        assert elapsed < 2.0
    finally:
        stop(srv, signal.SIGKILL)
        for sio in clients:
            sio.disconnect()
