"""BACK: events that start from the backend, driven through the control adapter."""

from __future__ import annotations

from taskchat.conformance.context import Ctx
from taskchat.conformance.registry import check
from taskchat.schemas import Event


@check("BACK-1", needs=["control"])
def notification(ctx: Ctx) -> None:
    """A notification reaches every socket in the room."""
    task = ctx.room("member", "member2", "viewer")
    socks = [ctx.join(r, task) for r in ("member", "member2", "viewer")]
    data = {"due": "2026-12-01", "n": 3}
    ctx.control.post_notification(task, "deadline", "Due next week", data)
    for c in socks:
        got = c.wait(Event.TASK_NOTIFICATION, req="BACK-1")
        ctx.expect(got.get("taskId") == task and got.get("type") == "deadline"
                   and got.get("message") == "Due next week" and got.get("data") == data
                   and bool(got.get("timestamp")), "BACK-1",
                   f"{c.label} gets the notification with its type, message and data", got)


@check("BACK-2", needs=["control"])
def task_update(ctx: Ctx) -> None:
    """A task update reaches every socket in the room with its changes."""
    task = ctx.room("member", "viewer")
    socks = [ctx.join(r, task) for r in ("member", "viewer")]
    changes = {"title": "Renamed by the conformance suite", "status": "done"}
    ctx.control.update_task(task, changes)
    for c in socks:
        got = c.wait(Event.TASK_UPDATED, req="BACK-2")
        ctx.expect(got.get("taskId") == task and got.get("changes") == changes
                   and bool(got.get("timestamp")), "BACK-2",
                   f"{c.label} gets task_updated with the changes", got)


@check("BACK-3", needs=["control"])
def member_changes(ctx: Ctx) -> None:
    """added, updated and removed reach every socket in the room, the member's own included."""
    task = ctx.room("owner", "member2")
    owner = ctx.join("owner", task)
    newcomer = ctx.user("member")
    ctx.control.set_member(task, newcomer.sub, "viewer", newcomer.name)
    got = owner.wait(Event.MEMBER_CHANGED, lambda p: p["action"] == "added", req="BACK-3",
                     what="member_changed (added)")
    member = got.get("member", {})
    ctx.expect(got.get("taskId") == task and member.get("userId") == newcomer.sub
               and member.get("role") == "viewer", "BACK-3",
               "member_changed (added) names the member and role", got)
    mine = ctx.join("member", task)
    ctx.control.set_member(task, newcomer.sub, "member", newcomer.name)
    for c in (owner, mine):
        got = c.wait(Event.MEMBER_CHANGED, lambda p: p["action"] == "updated", req="BACK-3",
                     what="member_changed (updated)")
        ctx.expect(got.get("member", {}).get("role") == "member", "BACK-3",
                   f"{c.label}: member_changed (updated) carries the new role", got)
    ctx.control.remove_member(task, newcomer.sub)
    for c in (owner, mine):
        c.wait(Event.MEMBER_CHANGED, lambda p: p["action"] == "removed", req="BACK-3",
               what="member_changed (removed)")


@check("BACK-4", "TYPE-5", "PRES-2", needs=["control"])
def removal_order(ctx: Ctx) -> None:
    """On removal: member_changed to all (the removed member included), then
    user_stopped_typing (if typing) and user_left to the others."""
    task = ctx.room("owner", "member")
    owner = ctx.join("owner", task)
    gone = ctx.join("member", task)
    sub = ctx.user("member").sub
    gone.ok(Event.TYPING_START, {"taskId": task}, req="TYPE-1")
    owner.wait(Event.USER_TYPING, req="TYPE-1")
    ctx.control.remove_member(task, sub)
    gone.wait(Event.MEMBER_CHANGED, lambda p: p["action"] == "removed", req="BACK-4",
              what="member_changed (removed) on the removed member's socket")
    owner.wait(Event.USER_LEFT, lambda p: p["userId"] == sub, req="PRES-2",
               what="user_left after the removal")
    changed = owner.index_of(Event.MEMBER_CHANGED, lambda p: p["action"] == "removed")
    stopped = owner.index_of(Event.USER_STOPPED_TYPING, lambda p: p["userId"] == sub)
    left = owner.index_of(Event.USER_LEFT, lambda p: p["userId"] == sub)
    ctx.expect(changed is not None and left is not None and changed < left, "BACK-4",
               "member_changed (removed) comes before user_left", owner.names())
    ctx.expect(stopped is not None and left is not None and stopped < left, "TYPE-5",
               "the removed typing user's user_stopped_typing comes before user_left",
               owner.names())
