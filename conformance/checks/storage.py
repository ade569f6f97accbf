"""STORE: what is kept: durability across a restart, and history over HTTP."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import requests
from taskchat.conformance.context import Ctx
from taskchat.conformance.registry import check
from taskchat.schemas import ErrorCode, Event

from taskchat.client.connection import ClientError, Connection


def _page(ctx: Ctx, who: str, task: str, req: str, **params: Any) -> dict[str, Any]:
    resp = ctx.history(who, task, **params)
    if resp.status_code != 200:
        ctx.fail(req, f"history {params} answers 200", f"HTTP {resp.status_code} {resp.text[:300]}")
    body = resp.json()
    ctx.expect(isinstance(body, dict) and body.get("taskId") == task
               and isinstance(body.get("messages"), list) and isinstance(body.get("hasMore"), bool),
               "STORE-2", "history is {taskId, messages, hasMore}", body)
    return body


def _wait_ready(ctx: Ctx) -> None:
    deadline = time.monotonic() + ctx.target.timeouts.restart
    while time.monotonic() < deadline:
        conn = Connection(ctx.target.url, {"token": ctx.user("member").token},
                          timeout=ctx.target.timeouts.connect)
        try:
            conn.connect()
            conn.close()
            return
        except ClientError:
            time.sleep(0.2)  # the server is down; there is no event to wait for
    ctx.fail("STORE-1", "the server comes back after the restart command",
             f"not ready within {ctx.target.timeouts.restart:g}s")


@check("STORE-1", needs=["restart"], exclusive=True)
def survives_restart(ctx: Ctx) -> None:
    """Acknowledged messages are still there after the server restarts."""
    task = ctx.room("member")
    a = ctx.join("member", task)
    sent = [a.send(task, f"durable {i}", clientMessageId=ctx.uid("d")) for i in range(5)]
    a.close()
    if ctx.target.restart_hook is not None:
        ctx.target.restart_hook()
    else:
        cmd = ctx.target.restart_command
        done = subprocess.run(cmd, shell=True, timeout=ctx.target.timeouts.restart, check=False,
                              capture_output=True, text=True)
        if done.returncode != 0:
            ctx.fail("STORE-1", f"the restart command {cmd!r} succeeds",
                     f"exit {done.returncode}: {done.stderr[-500:]}")
    _wait_ready(ctx)
    b = ctx.connect("member", req="STORE-1")
    b.join(task, req="STORE-1")  # the task, its members and messages must all be kept
    for msg in sent:
        again = b.send(task, "retry", clientMessageId=msg["client_message_id"], req="STORE-1")
        ctx.expect(again.get("id") == msg["id"], "STORE-1",
                   "a retry after the restart finds the acknowledged message", [msg, again])
    if ctx.target.http_api:
        ids = [m.get("id") for m in _page(ctx, "member", task, "STORE-1")["messages"]]
        missing = [m["id"] for m in sent if m["id"] not in ids]
        ctx.expect(not missing, "STORE-1", "history after the restart holds every acked message",
                   {"missing": missing, "history": ids})


@check("STORE-2", needs=["http"])
def history_pages(ctx: Ctx) -> None:
    """History is newest first; limit (default 50, at most 100) and before page through it."""
    task = ctx.room("owner", "admin", "member", "member2")
    a = ctx.join("member", task)
    sent = [a.send(task, f"history {i}")["id"] for i in range(5)]
    page = _page(ctx, "member", task, "STORE-2")
    ids = [m.get("id") for m in page["messages"]]
    ctx.expect(ids[:5] == sent[::-1], "STORE-2", "the messages, newest first", ids)
    if ctx.has_control:  # a fresh task holds only these
        ctx.expect(len(ids) == 5 and page["hasMore"] is False, "STORE-2",
                   "all five, and hasMore false", page)
    first = _page(ctx, "member", task, "STORE-2", limit=2)
    ctx.expect([m.get("id") for m in first["messages"]] == sent[:-3:-1] and first["hasMore"],
               "STORE-2", "limit=2 gives the two newest and hasMore true", first)
    older = _page(ctx, "member", task, "STORE-2", limit=2, before=sent[3])
    ctx.expect([m.get("id") for m in older["messages"]] == [sent[2], sent[1]], "STORE-2",
               "before=<id> gives the messages older than it", older)
    # the default page size: 51 messages in all, from four users so none nears a rate limit
    more = [ctx.join(role, task) for role in ("owner", "admin", "member2")]
    for i in range(46):
        more[i % 3].send(task, f"filler {i}")
    default = _page(ctx, "member", task, "STORE-2")
    ctx.expect(len(default["messages"]) == 50 and default["hasMore"] is True, "STORE-2",
               "without limit, a page of 50 and hasMore true (51 messages stored)",
               f"{len(default['messages'])} messages, hasMore {default['hasMore']}")
    full = _page(ctx, "member", task, "STORE-2", limit=100)
    ctx.expect(len(full["messages"]) >= 51, "STORE-2", "limit=100 gives up to 100",
               f"{len(full['messages'])} messages")


@check("STORE-5", needs=["http"])
def history_bad_parameters(ctx: Ctx) -> None:
    """A limit outside 1..100 is a 400 INVALID_PAYLOAD; an unknown before a 404 MESSAGE_NOT_FOUND."""
    task = ctx.room("member")
    a = ctx.join("member", task)
    a.send(task, "one message, so that a page exists")
    for bad in (0, 101, "ten"):
        resp = ctx.history("member", task, limit=bad)
        ctx.expect(resp.status_code == 400 and _code(resp) == ErrorCode.INVALID_PAYLOAD, "STORE-5",
                   f"limit={bad!r} is refused with 400 INVALID_PAYLOAD",
                   f"HTTP {resp.status_code} {resp.text[:200]}")
    resp = ctx.history("member", task, before=ctx.uid("no-such-message"))
    ctx.expect(resp.status_code == 404 and _code(resp) == ErrorCode.MESSAGE_NOT_FOUND, "STORE-5",
               "before=<unknown id> is refused with 404 MESSAGE_NOT_FOUND",
               f"HTTP {resp.status_code} {resp.text[:200]}")


def _code(resp: requests.Response) -> Any:
    try:
        body = resp.json()
    except ValueError:
        return None
    return body.get("error", {}).get("code") if isinstance(body, dict) else None


@check("STORE-3", needs=["http"])
def tombstones(ctx: Ctx) -> None:
    """A deleted message stays in history as a blanked tombstone."""
    task = ctx.room("member")
    a = ctx.join("member", task)
    msg = a.send(task, "secret", attachments=[{"name": "a", "url": "https://example.com/a"}])
    a.ok(Event.DELETE_MESSAGE, {"taskId": task, "messageId": msg["id"]}, req="MSG-7")
    found = [m for m in _page(ctx, "member", task, "STORE-3")["messages"] if m.get("id") == msg["id"]]
    if not found:
        ctx.fail("STORE-3", "the deleted message is still in history", "it is gone")
    tomb = found[0]
    ctx.expect(tomb.get("is_deleted") is True and bool(tomb.get("deleted_at"))
               and "secret" not in str(tomb.get("message")) and not tomb.get("attachments"),
               "STORE-3", "is_deleted true, deleted_at set, text and attachments blanked", tomb)


@check("STORE-4", needs=["http"])
def history_access(ctx: Ctx) -> None:
    """History refuses a request without a token (401) and a non-member (403)."""
    task = ctx.room("member")
    try:
        anonymous = ctx.history(None, task)
    except requests.RequestException as exc:
        ctx.fail("STORE-4", "history answers", str(exc))
    ctx.expect(anonymous.status_code == 401, "STORE-4", "no token: 401",
               f"HTTP {anonymous.status_code}")
    outsider = ctx.history("outsider", task)
    ctx.expect(outsider.status_code == 403, "STORE-4", "a non-member: 403",
               f"HTTP {outsider.status_code}")
    ctx.expect(ctx.history("member", task).status_code == 200, "STORE-4", "a member: 200", "")
