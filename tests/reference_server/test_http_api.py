"""The HTTP side (CONTRACT §9, D21-D23), called as the transport calls it, with the real app,
rules and store; the room's sockets are stood in for by a recorder of emits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import orjson
import pytest
import trio
from taskchat.reference_server.app import ChatApp
from taskchat.reference_server.auth import Verifier, make_token
from taskchat.reference_server.chat import ChatRules, Identity
from taskchat.reference_server.config import ServerConfig
from taskchat.reference_server.http_api import HttpApi
from taskchat.reference_server.store import Store
from taskchat.schemas import ErrorCode, Event
from taskchat.schemas.validation import validate

SECRET = "http-test-secret-0123456789abcdef"
ADMIN = make_token(SECRET, "root", name="Root", admin=True)


# the success bodies of CONTRACT §9 as the schemas (and the OpenAPI document) describe them
_RESPONSE_SCHEMAS = {
    ("POST", 201): "http/task.json",
    ("PATCH", 200): "http/task_updated.response.json",
    ("PUT", 200): "defs/member.json",
    ("POST", 202): "http/notification.response.json",
}


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[tuple[str, ...], str, object]] = []

    def emit(self, sids: Any, event: str, *args: object) -> None:
        self.sent.append((tuple(sids), event, args[0]))


class Client:
    def __init__(self, api: HttpApi) -> None:
        self.api = api

    async def __call__(
        self, method: str, path: str, body: object = None, token: str | None = ADMIN
    ) -> tuple[int, Any]:
        headers = [(b"host", b"127.0.0.1")]
        if token is not None:
            headers.append((b"authorization", f"Bearer {token}".encode()))
        raw = b"" if body is None else body if isinstance(body, bytes) else orjson.dumps(body)
        status, resp_headers, out = await self.api(method, path, headers, raw)
        data = orjson.loads(out) if out else None
        schema = _RESPONSE_SCHEMAS.get((method, status))
        if schema is not None:
            assert validate(schema, data) == [], (method, path, data)
        if status >= 400:
            assert validate("http/error.json", data) == [], data
            assert (b"content-type", b"application/json") in resp_headers
        return status, data


def run(test: Callable[[Client, ChatApp, Recorder], Awaitable[None]]) -> None:
    store = Store(":memory:")
    rules = ChatRules(store, tasks=store.load_tasks())
    recorder = Recorder()
    app = ChatApp(ServerConfig(jwt_secret=SECRET), store, rules, Verifier(secret=SECRET), recorder)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(store.run_committer, app.drain)
            await trio.sleep(0)
            with trio.fail_after(10):
                await test(Client(HttpApi(app)), app, recorder)
            nursery.cancel_scope.cancel()

    trio.run(main)
    store.close()


def user(uid: str) -> str:
    return make_token(SECRET, uid, name=uid.title())


def test_health_and_unknown_routes() -> None:
    async def t(http: Client, app: ChatApp, rec: Recorder) -> None:
        status, body = await http("GET", "/healthz", token=None)
        assert status == 200 and validate("http/health.json", body) == []
        status, body = await http("GET", "/nope", token=None)
        assert (status, body["error"]["code"]) == (404, "NOT_FOUND")
        status, body = await http("GET", "/api/tasks", token=None)
        assert (status, body["error"]["code"]) == (405, "METHOD_NOT_ALLOWED")

    run(t)


def test_admin_endpoints_need_an_admin_token() -> None:
    async def t(http: Client, app: ChatApp, rec: Recorder) -> None:
        status, body = await http("POST", "/api/tasks", {"title": "x"}, token=None)
        assert (status, body["error"]["code"]) == (401, ErrorCode.AUTH_REQUIRED)
        status, body = await http("POST", "/api/tasks", {"title": "x"}, token="junk")
        assert (status, body["error"]["code"]) == (401, ErrorCode.AUTH_INVALID)
        status, body = await http("POST", "/api/tasks", {"title": "x"}, token=user("u1"))
        assert (status, body["error"]["code"]) == (403, ErrorCode.FORBIDDEN)
        assert app.rules.tasks == {}

    run(t)


def test_create_task_conflict_and_validation() -> None:
    async def t(http: Client, app: ChatApp, rec: Recorder) -> None:
        assert await http("POST", "/api/tasks", {"taskId": "t1", "title": "One"}) == (
            201, {"taskId": "t1", "title": "One"},
        )
        status, body = await http("POST", "/api/tasks", {"taskId": "t1", "title": "Again"})
        assert (status, body["error"]["code"]) == (409, "CONFLICT")
        status, body = await http("POST", "/api/tasks", {"title": ""})
        assert (status, body["error"]["code"]) == (400, ErrorCode.INVALID_PAYLOAD)
        status, body = await http("POST", "/api/tasks", b"{not json")
        assert (status, body["error"]["code"]) == (400, ErrorCode.INVALID_PAYLOAD)
        status, body = await http("POST", "/api/tasks", {"title": "Generated id"})
        assert status == 201 and body["taskId"] and body["taskId"] in app.rules.tasks
        assert app.store.idle  # answered after the commit

    run(t)


def test_member_update_and_notification_reach_the_room_in_order() -> None:
    async def t(http: Client, app: ChatApp, rec: Recorder) -> None:
        await http("POST", "/api/tasks", {"taskId": "t1", "title": "One"})
        status, body = await http("PUT", "/api/tasks/t1/members/u1", {"role": "member"})
        assert (status, body) == (200, {"userId": "u1", "userName": "u1", "role": "member"})
        app.rules.connect("s1", Identity("u1", "U One", "U", "One"))
        app.rules.handle_event("s1", Event.JOIN_TASK, ["t1"], app.clock())
        status, body = await http("PUT", "/api/tasks/t1/members/u1", {"role": "viewer", "userName": "U1"})
        assert (status, body["role"]) == (200, "viewer")
        assert await http("PATCH", "/api/tasks/t1", {"title": "New", "status": "done"}) == (
            200, {"taskId": "t1", "title": "New", "status": "done"},
        )
        status, _ = await http("POST", "/api/tasks/t1/notifications", {"type": "due", "message": "Soon"})
        assert status == 202
        status, _ = await http("DELETE", "/api/tasks/t1/members/u1")
        assert status == 204
        events = [(to, ev) for to, ev, _p in rec.sent]
        assert events == [
            (("s1",), Event.MEMBER_CHANGED),
            (("s1",), Event.TASK_UPDATED),
            (("s1",), Event.TASK_NOTIFICATION),
            (("s1",), Event.MEMBER_CHANGED),
        ]
        payloads = [p for _to, _ev, p in rec.sent]
        assert payloads[0]["action"] == "updated" and payloads[3]["action"] == "removed"  # type: ignore[index]
        assert payloads[1]["updatedBy"] == "root"  # type: ignore[index]
        for (_to, ev, p) in rec.sent:
            assert validate(f"server-to-client/{ev}.json", p) == []
        assert not app.rules.is_member("t1", "u1")

    run(t)


def test_admin_on_a_missing_task_is_404() -> None:
    async def t(http: Client, app: ChatApp, rec: Recorder) -> None:
        for method, path, body in [
            ("PATCH", "/api/tasks/none", {"x": 1}),
            ("PUT", "/api/tasks/none/members/u", {"role": "member"}),
            ("DELETE", "/api/tasks/none/members/u", None),
            ("POST", "/api/tasks/none/notifications", {"type": "a", "message": "b"}),
        ]:
            status, out = await http(method, path, body)
            assert (status, out["error"]["code"]) == (404, ErrorCode.TASK_NOT_FOUND), path

    run(t)


def test_history_for_members_only_newest_first_with_pages() -> None:
    async def t(http: Client, app: ChatApp, rec: Recorder) -> None:
        await http("POST", "/api/tasks", {"taskId": "t 1", "title": "One"})
        await http("PUT", f"/api/tasks/{quote('t 1')}/members/u1", {"role": "member"})
        app.rules.connect("s1", Identity("u1", "U One", "U", "One"))
        app.rules.handle_event("s1", Event.JOIN_TASK, ["t 1"], app.clock())
        ids = []
        for i in range(5):
            effects = app.rules.handle_event(
                "s1", Event.SEND_MESSAGE, [{"taskId": "t 1", "message": f"m{i}"}], app.clock()
            )
            await app.execute(effects)
            ids.append(effects[-1].payload["message"]["id"])  # type: ignore[union-attr]
        await app.execute(app.rules.handle_event(
            "s1", Event.DELETE_MESSAGE, [{"taskId": "t 1", "messageId": ids[1]}], app.clock()
        ))
        base = f"/api/tasks/{quote('t 1')}/messages"
        status, page = await http("GET", base + "?limit=3", token=user("u1"))
        assert status == 200 and validate("http/history.json", page) == []
        assert [m["id"] for m in page["messages"]] == ids[::-1][:3] and page["hasMore"]
        status, page = await http("GET", f"{base}?limit=3&before={ids[2]}", token=user("u1"))
        assert [m["id"] for m in page["messages"]] == [ids[1], ids[0]] and not page["hasMore"]
        assert page["messages"][0]["is_deleted"] is True and page["messages"][0]["message"] == ""
        status, page = await http("GET", base, token=user("u1"))
        assert len(page["messages"]) == 5
        for query, code, expected in [
            ("?limit=0", ErrorCode.INVALID_PAYLOAD, 400),
            ("?limit=101", ErrorCode.INVALID_PAYLOAD, 400),
            ("?limit=x", ErrorCode.INVALID_PAYLOAD, 400),
            ("?before=ghost", ErrorCode.MESSAGE_NOT_FOUND, 404),
        ]:
            status, out = await http("GET", base + query, token=user("u1"))
            assert (status, out["error"]["code"]) == (expected, code), query
        status, out = await http("GET", base, token=user("stranger"))
        assert (status, out["error"]["code"]) == (403, ErrorCode.FORBIDDEN)
        status, out = await http("GET", base, token=None)
        assert (status, out["error"]["code"]) == (401, ErrorCode.AUTH_REQUIRED)
        status, out = await http("GET", "/api/tasks/nope/messages", token=user("u1"))
        assert (status, out["error"]["code"]) == (404, ErrorCode.TASK_NOT_FOUND)

    run(t)


@pytest.mark.parametrize("path", ["/api/tasks/" + "x" * 129, "/api/tasks/t1/members/" + "u" * 129])
def test_overlong_ids_in_paths_are_invalid(path: str) -> None:
    async def t(http: Client, app: ChatApp, rec: Recorder) -> None:
        status, out = await http("PATCH" if path.count("/") == 3 else "PUT", path, {"role": "member"})
        assert (status, out["error"]["code"]) == (400, ErrorCode.INVALID_PAYLOAD)

    run(t)
