"""PRES: who is online, per user rather than per socket."""

from __future__ import annotations

from taskchat.conformance.context import Ctx
from taskchat.conformance.registry import check
from taskchat.schemas import Event


@check("PRES-1")
def joined_once_per_user(ctx: Ctx) -> None:
    """user_joined goes to the others when a user's first socket joins, not for a second tab."""
    task = ctx.room("member", "member2")
    b = ctx.join("member2", task)
    a = ctx.join("member", task)
    user = ctx.user("member")
    got = b.wait(Event.USER_JOINED, lambda p: p["userId"] == user.sub, req="PRES-1")
    ctx.expect(got.get("taskId") == task and got.get("userName") == user.name
               and bool(got.get("timestamp")), "PRES-1",
               "user_joined carries taskId, userId, userName, timestamp", got)
    ctx.join("member", task)
    ctx.barrier(a, task, [b])
    joins = b.got(Event.USER_JOINED, lambda p: p["userId"] == user.sub)
    ctx.expect(len(joins) == 1, "PRES-1", "no user_joined for the second tab", joins)
    ctx.expect(not a.got(Event.USER_JOINED, lambda p: p["userId"] == user.sub), "PRES-1",
               "the joiner's own socket gets no user_joined about itself", a.names())


@check("PRES-2")
def left_when_last_socket_leaves(ctx: Ctx) -> None:
    """user_left comes when the user's last socket leaves, not while a tab remains."""
    task = ctx.room("member", "member2")
    b = ctx.join("member2", task)
    tab1 = ctx.join("member", task)
    tab2 = ctx.join("member", task)
    sub = ctx.user("member").sub
    tab1.ok(Event.LEAVE_TASK, task, req="ROOM-4")
    ctx.barrier(tab2, task, [b])
    ctx.expect(not b.got(Event.USER_LEFT), "PRES-2", "no user_left while a tab is still in",
               b.got(Event.USER_LEFT))
    tab2.close()
    got = b.wait(Event.USER_LEFT, lambda p: p["userId"] == sub, req="PRES-2",
                 what="user_left when the last tab disconnects")
    ctx.expect(got.get("taskId") == task and bool(got.get("timestamp")), "PRES-2",
               "user_left carries taskId, userId, userName, timestamp", got)


@check("PRES-3")
def online_once(ctx: Ctx) -> None:
    """A user with two sockets in a room appears once in onlineUsers."""
    task = ctx.room("member", "member2")
    ctx.join("member", task)
    ctx.join("member", task)
    ack = ctx.connect("member2").join(task)
    ids = [u.get("userId") for u in ack.get("onlineUsers", [])]
    ctx.expect(ids.count(ctx.user("member").sub) == 1, "PRES-3",
               "the user with two tabs is listed once", ids)
    ctx.expect(len(ids) == len(set(ids)), "PRES-3", "no user is listed twice", ids)
