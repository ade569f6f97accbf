"""PERM: what each role may do, and role changes taking effect on sockets already joined."""

from __future__ import annotations

from taskchat.conformance.context import Ctx
from taskchat.conformance.registry import check
from taskchat.schemas import ErrorCode, Event


@check("PERM-1")
def non_member_join(ctx: Ctx) -> None:
    """A user who is not a member of the task may not join it."""
    task = ctx.room("member")
    ctx.connect("outsider").refused(Event.JOIN_TASK, task, code=ErrorCode.FORBIDDEN,
                                    req="PERM-1")


@check("PERM-2")
def viewer_reads_only(ctx: Ctx) -> None:
    """A viewer joins and receives messages, but may not send, edit or type."""
    task = ctx.room("member", "viewer")
    v = ctx.join("viewer", task)
    m = ctx.join("member", task)
    msg = m.send(task, "for the viewer to read")
    v.wait(Event.NEW_MESSAGE, lambda p: p["message"]["id"] == msg["id"], req="PERM-2",
           what="the member's message (a viewer reads)")
    v.refused(Event.SEND_MESSAGE, {"taskId": task, "message": "I may not"},
              code=ErrorCode.FORBIDDEN, req="PERM-2")
    v.refused(Event.EDIT_MESSAGE, {"taskId": task, "messageId": msg["id"], "newMessage": "no"},
              code=ErrorCode.FORBIDDEN, req="PERM-2")
    v.refused(Event.TYPING_START, {"taskId": task}, code=ErrorCode.FORBIDDEN, req="PERM-2")
    ctx.barrier(m, task, [m])
    ctx.expect(not m.got(Event.USER_TYPING), "PERM-2", "a refused typing_start emits nothing",
               m.got(Event.USER_TYPING))


@check("PERM-3")
def only_author_edits(ctx: Ctx) -> None:
    """Owner, admin and another member may not edit a member's message."""
    task = ctx.room()
    author = ctx.join("member", task)
    msg = author.send(task, "mine")
    for role in ("owner", "admin", "member2"):
        ctx.join(role, task).refused(
            Event.EDIT_MESSAGE, {"taskId": task, "messageId": msg["id"], "newMessage": role},
            code=ErrorCode.FORBIDDEN, req="PERM-3")
    author.ok(Event.EDIT_MESSAGE, {"taskId": task, "messageId": msg["id"], "newMessage": "mine!"},
              req="PERM-3")


@check("PERM-4")
def member_deletes_own_only(ctx: Ctx) -> None:
    """A member deletes their own message, not another's; a viewer deletes nothing."""
    task = ctx.room("member", "member2", "viewer")
    a = ctx.join("member", task)
    b = ctx.join("member2", task)
    v = ctx.join("viewer", task)
    theirs = b.send(task, "member2's")
    a.refused(Event.DELETE_MESSAGE, {"taskId": task, "messageId": theirs["id"]},
              code=ErrorCode.FORBIDDEN, req="PERM-4")
    v.refused(Event.DELETE_MESSAGE, {"taskId": task, "messageId": theirs["id"]},
              code=ErrorCode.FORBIDDEN, req="PERM-4")
    mine = a.send(task, "member's")
    a.ok(Event.DELETE_MESSAGE, {"taskId": task, "messageId": mine["id"]}, req="PERM-4")


@check("PERM-5")
def owner_and_admin_delete_any(ctx: Ctx) -> None:
    """Owner and admin may delete another user's message."""
    task = ctx.room("owner", "admin", "member")
    m = ctx.join("member", task)
    for role in ("owner", "admin"):
        msg = m.send(task, f"for the {role} to delete")
        ctx.join(role, task).ok(Event.DELETE_MESSAGE, {"taskId": task, "messageId": msg["id"]},
                                req="PERM-5")
        m.wait(Event.MESSAGE_DELETED, lambda p, i=msg["id"]: p["messageId"] == i, req="PERM-5")


@check("PERM-6", needs=["control"])
def role_lowered_while_joined(ctx: Ctx) -> None:
    """A member lowered to viewer is refused the next send_message on the same socket."""
    task = ctx.room("member")
    m = ctx.join("member", task)
    m.send(task, "while a member")
    ctx.control.set_member(task, ctx.user("member").sub, "viewer")
    m.wait(Event.MEMBER_CHANGED, lambda p: p["action"] == "updated", req="BACK-3")
    m.refused(Event.SEND_MESSAGE, {"taskId": task, "message": "now a viewer"},
              code=ErrorCode.FORBIDDEN, req="PERM-6")
    m.refused(Event.TYPING_START, {"taskId": task}, code=ErrorCode.FORBIDDEN, req="PERM-6")


@check("PERM-7", "BACK-3", needs=["control"])
def removed_member_sockets(ctx: Ctx) -> None:
    """A removed member's sockets get member_changed, then nothing more from the room, and
    their requests on it are FORBIDDEN."""
    task = ctx.room("owner", "member", "member2")
    owner = ctx.join("owner", task)
    gone1 = ctx.join("member2", task)
    gone2 = ctx.join("member2", task)
    stay = ctx.join("member", task)
    ctx.control.remove_member(task, ctx.user("member2").sub)
    for c in (gone1, gone2, owner, stay):
        c.wait(Event.MEMBER_CHANGED, lambda p: p["action"] == "removed", req="BACK-3",
               what="member_changed (removed)")
    ctx.barrier(owner, task, [owner, stay])
    for c in (gone1, gone2):
        later = c.got(Event.NEW_MESSAGE)
        ctx.expect(not later, "PERM-7", f"{c.label} (removed) receives nothing more", later)
    gone1.refused(Event.SEND_MESSAGE, {"taskId": task, "message": "still here?"},
                  code=ErrorCode.FORBIDDEN, req="PERM-7")
    gone2.refused(Event.JOIN_TASK, task, code=ErrorCode.FORBIDDEN, req="PERM-7")
