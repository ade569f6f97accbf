"""TYPE: typing indicators, their transitions and their expiry."""

from __future__ import annotations

import time

from taskchat.conformance.context import Ctx
from taskchat.conformance.registry import check
from taskchat.schemas import Event


@check("TYPE-1")
def typing_start(ctx: Ctx) -> None:
    """user_typing goes to the other sockets (the user's other tab too), not the sender, once."""
    task = ctx.room("member", "member2")
    a = ctx.join("member", task)
    tab = ctx.join("member", task)
    b = ctx.join("member2", task)
    a.ok(Event.TYPING_START, {"taskId": task}, req="TYPE-1")
    sub = ctx.user("member").sub
    for c in (b, tab):
        got = c.wait(Event.USER_TYPING, lambda p: p["userId"] == sub, req="TYPE-1",
                     what="user_typing")
        ctx.expect(got.get("taskId") == task and got.get("userName") == ctx.user("member").name,
                   "TYPE-1", "user_typing carries taskId, userId, userName", got)
    a.ok(Event.TYPING_START, {"taskId": task}, req="TYPE-1")
    tab.ok(Event.TYPING_START, {"taskId": task}, req="TYPE-1")
    a.ok(Event.TYPING_STOP, {"taskId": task}, req="TYPE-2")
    b.wait(Event.USER_STOPPED_TYPING, req="TYPE-2")
    ctx.quiet()
    ctx.expect(len(b.got(Event.USER_TYPING)) == 1, "TYPE-1",
               "a repeated typing_start (from either tab) emits nothing more",
               b.got(Event.USER_TYPING))
    ctx.expect(not a.got(Event.USER_TYPING), "TYPE-1", "the sender gets no user_typing",
               a.got(Event.USER_TYPING))


@check("TYPE-2")
def typing_stop(ctx: Ctx) -> None:
    """typing_stop of a typing user reaches the others; of a user not typing, emits nothing."""
    task = ctx.room("member", "member2")
    a = ctx.join("member", task)
    b = ctx.join("member2", task)
    a.ok(Event.TYPING_STOP, {"taskId": task}, req="TYPE-2")
    a.ok(Event.TYPING_START, {"taskId": task}, req="TYPE-1")
    b.wait(Event.USER_TYPING, req="TYPE-1")
    ctx.expect(not b.got(Event.USER_STOPPED_TYPING), "TYPE-2",
               "typing_stop by a user who is not typing emits nothing",
               b.got(Event.USER_STOPPED_TYPING))
    a.ok(Event.TYPING_STOP, {"taskId": task}, req="TYPE-2")
    got = b.wait(Event.USER_STOPPED_TYPING, req="TYPE-2")
    ctx.expect(got.get("taskId") == task and got.get("userId") == ctx.user("member").sub,
               "TYPE-2", "user_stopped_typing names task and user", got)
    a.ok(Event.TYPING_STOP, {"taskId": task}, req="TYPE-2")
    ctx.barrier(a, task, [b])
    ctx.expect(len(b.got(Event.USER_STOPPED_TYPING)) == 1, "TYPE-2",
               "a second typing_stop emits nothing", b.got(Event.USER_STOPPED_TYPING))
    ctx.expect(not a.got(Event.USER_STOPPED_TYPING), "TYPE-2",
               "the sender gets no user_stopped_typing", a.got(Event.USER_STOPPED_TYPING))


@check("TYPE-3")
def send_stops_typing(ctx: Ctx) -> None:
    """A typing user's send emits user_stopped_typing before the new_message."""
    task = ctx.room("member", "member2")
    a = ctx.join("member", task)
    b = ctx.join("member2", task)
    a.ok(Event.TYPING_START, {"taskId": task}, req="TYPE-1")
    b.wait(Event.USER_TYPING, req="TYPE-1")
    msg = a.send(task, "done typing")
    b.wait(Event.NEW_MESSAGE, lambda p: p["message"]["id"] == msg["id"], req="MSG-1")
    stop = b.index_of(Event.USER_STOPPED_TYPING)
    new = b.index_of(Event.NEW_MESSAGE, lambda p: p["message"]["id"] == msg["id"])
    ctx.expect(stop is not None and new is not None and stop < new, "TYPE-3",
               "user_stopped_typing arrives before the new_message", b.names())


@check("TYPE-4")
def typing_expires_slow(ctx: Ctx) -> None:
    """The server ends a typing indicator by itself, the typing timeout after the user's last
    typing_start (a second typing_start half-way through pushes the end back)."""
    task = ctx.room("member", "member2")
    a = ctx.join("member", task)
    b = ctx.join("member2", task)
    limit = ctx.target.timeouts.typing_timeout
    a.ok(Event.TYPING_START, {"taskId": task}, req="TYPE-1")
    b.wait(Event.USER_TYPING, req="TYPE-1")
    # the stimulus is timed on purpose: the renewal must land inside the first timeout
    time.sleep(limit / 2)
    a.ok(Event.TYPING_START, {"taskId": task}, req="TYPE-1")
    renewed = time.monotonic()
    b.wait(Event.USER_STOPPED_TYPING, req="TYPE-4",
           what=f"user_stopped_typing about {limit:g}s after the last typing_start",
           timeout=limit + ctx.target.timeouts.event)
    waited = time.monotonic() - renewed
    ctx.expect(waited >= limit * 0.8, "TYPE-4",
               f"the indicator lasts the typing timeout ({limit:g}s) after the last typing_start",
               f"user_stopped_typing {waited:.2f}s after the last typing_start")
    ctx.expect(len(b.got(Event.USER_TYPING)) == 1, "TYPE-1",
               "the renewing typing_start emits no second user_typing", b.got(Event.USER_TYPING))


@check("TYPE-5", "PRES-2")
def leaving_stops_typing(ctx: Ctx) -> None:
    """A typing user who leaves (leave_task, disconnect) is announced with user_stopped_typing
    before user_left."""
    task = ctx.room("member", "member2", "admin")
    b = ctx.join("member2", task)
    for how in ("leave_task", "disconnect"):
        who = "member" if how == "leave_task" else "admin"
        a = ctx.join(who, task)
        a.ok(Event.TYPING_START, {"taskId": task}, req="TYPE-1")
        sub = ctx.user(who).sub
        b.wait(Event.USER_TYPING, lambda p, s=sub: p["userId"] == s, req="TYPE-1")
        if how == "leave_task":
            a.ok(Event.LEAVE_TASK, task, req="ROOM-4")
        else:
            a.close()
        b.wait(Event.USER_LEFT, lambda p, s=sub: p["userId"] == s, req="PRES-2",
               what=f"user_left after {how}")
        stop = b.index_of(Event.USER_STOPPED_TYPING, lambda p, s=sub: p["userId"] == s)
        left = b.index_of(Event.USER_LEFT, lambda p, s=sub: p["userId"] == s)
        ctx.expect(stop is not None and left is not None and stop < left, "TYPE-5",
                   f"on {how}, user_stopped_typing arrives before user_left", b.names())
