"""ROOM: joining, leaving, and requests on rooms a socket is not in."""

from __future__ import annotations

from taskchat.conformance.context import Ctx
from taskchat.conformance.registry import check
from taskchat.schemas import ErrorCode, Event


@check("ROOM-1")
def join_ack(ctx: Ctx) -> None:
    """The join ack is {ok, taskId, onlineUsers} and onlineUsers includes the joiner."""
    task = ctx.room("member", "member2")
    b = ctx.join("member2", task)
    ack = ctx.connect("member").join(task)
    ctx.expect(ack.get("taskId") == task, "ROOM-1", f"the ack's taskId is {task}", ack)
    ids = [u.get("userId") for u in ack.get("onlineUsers", [])]
    ctx.expect(ctx.user("member").sub in ids, "ROOM-1", "onlineUsers includes the joiner", ids)
    ctx.expect(ctx.user("member2").sub in ids, "ROOM-1", "onlineUsers includes the user already in",
               ids)
    b.wait(Event.USER_JOINED, req="PRES-1")


@check("ROOM-2")
def join_twice(ctx: Ctx) -> None:
    """A second join_task on the same socket is a no-op success: no second user_joined."""
    task = ctx.room("member", "member2")
    watcher = ctx.join("member2", task)
    a = ctx.connect("member")
    first = a.join(task)
    second = a.join(task, req="ROOM-2")
    ctx.expect(second.get("taskId") == first.get("taskId"), "ROOM-2", "the same ack twice",
               [first, second])
    ctx.barrier(a, task, [watcher])
    joins = watcher.got(Event.USER_JOINED, lambda p: p["userId"] == ctx.user("member").sub)
    ctx.expect(len(joins) == 1, "ROOM-2", "exactly one user_joined for the joiner", joins)
    news = a.got(Event.NEW_MESSAGE)
    ctx.expect(len(news) == 1, "ROOM-2", "the twice-joined socket gets each message once", news)


@check("ROOM-3")
def unknown_task(ctx: Ctx) -> None:
    """Every request naming a task that does not exist is TASK_NOT_FOUND."""
    a = ctx.connect("member")
    missing = ctx.missing_task()
    a.refused(Event.JOIN_TASK, missing, code=ErrorCode.TASK_NOT_FOUND, req="ROOM-3")
    a.refused(Event.SEND_MESSAGE, {"taskId": missing, "message": "hi"},
              code=ErrorCode.TASK_NOT_FOUND, req="ROOM-3")
    a.refused(Event.TYPING_START, {"taskId": missing}, code=ErrorCode.TASK_NOT_FOUND, req="ROOM-3")
    a.refused(Event.TYPING_STOP, {"taskId": missing}, code=ErrorCode.TASK_NOT_FOUND, req="ROOM-3")
    a.refused(Event.EDIT_MESSAGE, {"taskId": missing, "messageId": "m", "newMessage": "x"},
              code=ErrorCode.TASK_NOT_FOUND, req="ROOM-3")
    a.refused(Event.DELETE_MESSAGE, {"taskId": missing, "messageId": "m"},
              code=ErrorCode.TASK_NOT_FOUND, req="ROOM-3")


@check("ROOM-4")
def leave_not_joined(ctx: Ctx) -> None:
    """leave_task for a room the socket is not in is a no-op success."""
    task = ctx.room("member")
    a = ctx.connect("member")
    a.ok(Event.LEAVE_TASK, task, req="ROOM-4")
    a.join(task)
    a.ok(Event.LEAVE_TASK, task, req="ROOM-4")
    a.ok(Event.LEAVE_TASK, task, req="ROOM-4")


@check("ROOM-5", "PRES-2")
def nothing_after_leave(ctx: Ctx) -> None:
    """After leave_task the socket receives nothing more from the room."""
    task = ctx.room("member", "member2")
    a = ctx.join("member", task)
    b = ctx.join("member2", task)
    a.ok(Event.LEAVE_TASK, task, req="ROOM-5")
    mark = len(a.conn.received)
    b.wait(Event.USER_LEFT, lambda p: p["userId"] == ctx.user("member").sub, req="PRES-2")
    b.ok(Event.TYPING_START, {"taskId": task}, req="TYPE-1")
    ctx.barrier(b, task, [b])
    after = a.names()[mark:]
    ctx.expect(after == [], "ROOM-5",
               "the socket that left receives nothing more from the room", after)


@check("ROOM-6")
def not_joined(ctx: Ctx) -> None:
    """A member's requests on a task this socket has not joined are NOT_JOINED; a
    non-member's are FORBIDDEN."""
    task = ctx.room("member", "member2")
    b = ctx.join("member2", task)
    msg = b.send(task, "someone else's")
    a = ctx.connect("member")
    own = ctx.join("member", task).send(task, "mine, from another socket")
    for event, payload in (
        (Event.SEND_MESSAGE, {"taskId": task, "message": "hi"}),
        (Event.EDIT_MESSAGE, {"taskId": task, "messageId": own["id"], "newMessage": "x"}),
        (Event.DELETE_MESSAGE, {"taskId": task, "messageId": own["id"]}),
        (Event.TYPING_START, {"taskId": task}),
        (Event.TYPING_STOP, {"taskId": task}),
    ):
        a.refused(event, payload, code=ErrorCode.NOT_JOINED, req="ROOM-6")
    outsider = ctx.connect("outsider")
    outsider.refused(Event.SEND_MESSAGE, {"taskId": task, "message": "hi"},
                     code=ErrorCode.FORBIDDEN, req="ROOM-6")
    outsider.refused(Event.DELETE_MESSAGE, {"taskId": task, "messageId": msg["id"]},
                     code=ErrorCode.FORBIDDEN, req="ROOM-6")
