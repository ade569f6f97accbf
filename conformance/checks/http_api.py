"""HTTP: CONTRACT §9's health check and admin API, as a server that offers them must answer."""

from __future__ import annotations

from typing import Any

import requests
from taskchat.conformance.context import Ctx
from taskchat.conformance.registry import check


def _error_body(ctx: Ctx, resp: requests.Response, where: str) -> None:
    try:
        body: Any = resp.json()
    except ValueError:
        body = resp.text[:300]
    err = body.get("error") if isinstance(body, dict) else None
    ctx.expect(isinstance(err, dict) and isinstance(err.get("code"), str)
               and isinstance(err.get("message"), str), "HTTP-4",
               f"{where}: the error body is {{\"error\": {{code, message}}}}", body)


@check("HTTP-1", needs=["http"])
def healthz(ctx: Ctx) -> None:
    """GET /healthz answers 200."""
    resp = ctx.http("GET", "/healthz", req="HTTP-1")
    ctx.expect(resp.status_code == 200, "HTTP-1", "GET /healthz: 200", f"HTTP {resp.status_code}")


@check("HTTP-2", "HTTP-4", needs=["admin_api"])
def admin_needs_admin(ctx: Ctx) -> None:
    """The admin endpoints refuse no token (401) and a user's token (403)."""
    task = ctx.room("member")
    user = ctx.user("member").token
    calls = [("POST", "/api/tasks", {"title": "nope"}),
             ("PATCH", f"/api/tasks/{task}", {"title": "nope"}),
             ("PUT", f"/api/tasks/{task}/members/someone", {"role": "member"}),
             ("DELETE", f"/api/tasks/{task}/members/someone", None),
             ("POST", f"/api/tasks/{task}/notifications", {"type": "x", "message": "nope"})]
    for method, path, body in calls:
        for token, status in ((None, 401), (user, 403), ("garbage", 401)):
            resp = ctx.http(method, path, token=token, json=body, req="HTTP-2")
            who = {None: "no token", user: "a user's token", "garbage": "a garbage token"}[token]
            ctx.expect(resp.status_code == status, "HTTP-2", f"{method} {path} with {who}: {status}",
                       f"HTTP {resp.status_code} {resp.text[:200]}")
            _error_body(ctx, resp, f"{method} {path} with {who}")


@check("HTTP-3", needs=["admin_api"])
def admin_endpoints(ctx: Ctx) -> None:
    """Create, set member, update, notify, remove member: the documented statuses."""
    admin = ctx.target.token("admin_api")
    task = ctx.uid("task")
    resp = ctx.http("POST", "/api/tasks", token=admin, json={"taskId": task, "title": "T"},
                    req="HTTP-3")
    ok = resp.status_code == 201 and resp.json() == {**resp.json(), "taskId": task, "title": "T"}
    if not ok:
        ctx.fail("HTTP-3", "POST /api/tasks: 201 {taskId, title}",
                 f"HTTP {resp.status_code} {resp.text[:300]}")
    made = ctx.http("POST", "/api/tasks", token=admin, json={"title": "generated id"}, req="HTTP-3")
    ctx.expect(made.status_code == 201 and isinstance(made.json().get("taskId"), str), "HTTP-3",
               "POST /api/tasks without taskId: 201 with a generated one", made.text[:300])
    user = ctx.user("member")
    resp = ctx.http("PUT", f"/api/tasks/{task}/members/{user.sub}", token=admin,
                    json={"role": "member", "userName": user.name}, req="HTTP-3")
    ctx.expect(resp.status_code == 200 and resp.json().get("userId") == user.sub
               and resp.json().get("role") == "member", "HTTP-3",
               "PUT …/members/{userId}: 200 {userId, userName, role}",
               f"HTTP {resp.status_code} {resp.text[:300]}")
    for method, path, body, status in (
        ("PATCH", f"/api/tasks/{task}", {"title": "T2"}, 200),
        ("POST", f"/api/tasks/{task}/notifications", {"type": "info", "message": "m"}, 202),
        ("DELETE", f"/api/tasks/{task}/members/{user.sub}", None, 204),
    ):
        resp = ctx.http(method, path, token=admin, json=body, req="HTTP-3")
        ctx.expect(resp.status_code == status, "HTTP-3", f"{method} {path}: {status}",
                   f"HTTP {resp.status_code} {resp.text[:300]}")


@check("HTTP-4", needs=["admin_api"])
def error_bodies(ctx: Ctx) -> None:
    """Errors are JSON {"error": {code, message}} with the matching status."""
    admin = ctx.target.token("admin_api")
    task = ctx.room("member")
    for method, path, body, status in (
        ("POST", "/api/tasks", {"taskId": task, "title": "again"}, 409),
        ("POST", "/api/tasks", {"nope": 1}, 400),
        ("PATCH", f"/api/tasks/{ctx.missing_task()}", {"title": "x"}, 404),
        ("PUT", f"/api/tasks/{task}/members/u1", {"role": "emperor"}, 400),
        ("GET", "/api/no-such-route", None, 404),
    ):
        resp = ctx.http(method, path, token=admin, json=body, req="HTTP-4")
        ctx.expect(resp.status_code == status, "HTTP-4", f"{method} {path}: {status}",
                   f"HTTP {resp.status_code} {resp.text[:300]}")
        _error_body(ctx, resp, f"{method} {path}")
