"""MSG: sending, editing, deleting, replies and retries."""

from __future__ import annotations

from taskchat.conformance.context import Ctx
from taskchat.conformance.registry import check
from taskchat.schemas import ErrorCode, Event


@check("MSG-1", "MSG-9")
def send_reaches_room(ctx: Ctx) -> None:
    """The message is acked and reaches every socket in the room, the sender's included."""
    task = ctx.room("member", "member2", "viewer")
    a = ctx.join("member", task)
    a2 = ctx.join("member", task)
    b = ctx.join("member2", task)
    v = ctx.join("viewer", task)
    cid = ctx.uid("c")
    msg = a.send(task, "hello room", clientMessageId=cid)
    for c in (a, a2, b, v):
        got = c.wait(Event.NEW_MESSAGE, lambda p: p["message"]["id"] == msg["id"], req="MSG-1",
                     what="the new_message")
        ctx.expect(got.get("taskId") == task and got.get("message") == msg, "MSG-1",
                   f"{c.label}'s new_message carries the acked message", got)
    user = ctx.user("member")
    ctx.expect(msg.get("user_id") == user.sub and msg.get("task_id") == task
               and msg.get("message") == "hello room" and msg.get("client_message_id") == cid
               and msg.get("is_edited") is False and bool(msg.get("created_at")), "MSG-9",
               "the message carries task_id, user_id (the sub), the text, client_message_id, "
               "created_at, is_edited false", msg)


@check("MSG-2")
def text_rules(ctx: Ctx) -> None:
    """Text is stored trimmed; empty-after-trim and over 5,000 code points are refused."""
    task = ctx.room("member")
    a = ctx.join("member", task)
    msg = a.send(task, "  \n trimmed \t ", req="MSG-2")
    ctx.expect(msg.get("message") == "trimmed", "MSG-2", "the text is stored trimmed",
               msg.get("message"))
    # empty, blank, 5,001 characters, 5,001 astral code points (10,002 UTF-16 units)
    for text in ("", "   \n\t ", "x" * 5001, "😀" * 5001):
        a.refused(Event.SEND_MESSAGE, {"taskId": task, "message": text},
                  code=ErrorCode.INVALID_PAYLOAD, req="MSG-2")
    long = a.send(task, "  " + "😀" * 5000 + "  ", req="MSG-2")
    ctx.expect(long.get("message") == "😀" * 5000, "MSG-2",
               "5,000 code points (10,000 UTF-16 units) after trimming are accepted",
               f"{len(long.get('message', ''))} code points")
    a.refused(Event.EDIT_MESSAGE, {"taskId": task, "messageId": msg["id"], "newMessage": "  "},
              code=ErrorCode.INVALID_PAYLOAD, req="MSG-2")


@check("MSG-3")
def attachment_count(ctx: Ctx) -> None:
    """Ten attachments are fine, eleven are INVALID_PAYLOAD."""
    task = ctx.room("member")
    a = ctx.join("member", task)
    files = [{"name": f"f{i}.txt", "url": f"https://example.com/f{i}.txt"} for i in range(11)]
    a.refused(Event.SEND_MESSAGE, {"taskId": task, "message": "eleven", "attachments": files},
              code=ErrorCode.INVALID_PAYLOAD, req="MSG-3")
    msg = a.send(task, "ten", attachments=files[:10], req="MSG-3")
    ctx.expect(len(msg.get("attachments", [])) == 10, "MSG-3", "all ten attachments are kept",
               msg.get("attachments"))


@check("MSG-4")
def replies(ctx: Ctx) -> None:
    """replyTo names a message of the same task (a deleted one too); else MESSAGE_NOT_FOUND."""
    task = ctx.room("member")
    a = ctx.join("member", task)
    first = a.send(task, "first")
    reply = a.send(task, "reply", replyTo=first["id"], req="MSG-4")
    ctx.expect(reply.get("reply_to") == first["id"], "MSG-4", "reply_to names the message",
               reply)
    a.refused(Event.SEND_MESSAGE, {"taskId": task, "message": "x", "replyTo": ctx.uid("nope")},
              code=ErrorCode.MESSAGE_NOT_FOUND, req="MSG-4")
    other = ctx.other_room()
    o = ctx.join("member", other)
    elsewhere = o.send(other, "in another task")
    a.refused(Event.SEND_MESSAGE, {"taskId": task, "message": "x", "replyTo": elsewhere["id"]},
              code=ErrorCode.MESSAGE_NOT_FOUND, req="MSG-4")
    a.ok(Event.DELETE_MESSAGE, {"taskId": task, "messageId": first["id"]}, req="MSG-7")
    a.send(task, "reply to a deleted message", replyTo=first["id"], req="MSG-4")


@check("MSG-5")
def client_message_id_retry(ctx: Ctx) -> None:
    """A repeated clientMessageId returns the original message and broadcasts nothing, also
    from a new connection."""
    task = ctx.room("member", "member2")
    a = ctx.join("member", task)
    b = ctx.join("member2", task)
    cid = ctx.uid("retry")
    first = a.send(task, "once", clientMessageId=cid, req="MSG-5")
    again = a.send(task, "once", clientMessageId=cid, req="MSG-5")
    ctx.expect(again.get("id") == first.get("id"), "MSG-5",
               "the retry's ack carries the original message", [first, again])
    a.close()
    fresh = ctx.join("member", task)
    third = fresh.send(task, "once, after a reconnect", clientMessageId=cid, req="MSG-5")
    ctx.expect(third.get("id") == first.get("id"), "MSG-5",
               "a retry from a new connection gets the original message", [first, third])
    ctx.barrier(b, task, [b])
    copies = b.got(Event.NEW_MESSAGE, lambda p: p["message"]["id"] == first["id"])
    ctx.expect(len(copies) == 1, "MSG-5", "the message is broadcast once", copies)
    other = ctx.join("member2", task).send(task, "same id, other user", clientMessageId=cid)
    ctx.expect(other.get("id") != first.get("id"), "MSG-5",
               "another user's clientMessageId is their own", other)


@check("MSG-6")
def edit(ctx: Ctx) -> None:
    """The author's edit changes the text, marks it edited, and reaches the room."""
    task = ctx.room("member", "member2")
    a = ctx.join("member", task)
    b = ctx.join("member2", task)
    msg = a.send(task, "before")
    ack = a.ok(Event.EDIT_MESSAGE, {"taskId": task, "messageId": msg["id"],
                                    "newMessage": "  after  "}, req="MSG-6")
    edited = ack.get("message", {})
    ctx.expect(edited.get("id") == msg["id"] and edited.get("message") == "after"
               and edited.get("is_edited") is True and bool(edited.get("updated_at")), "MSG-6",
               "the ack's message has the new trimmed text, is_edited true, updated_at", edited)
    for c in (a, b):
        got = c.wait(Event.MESSAGE_EDITED, req="MSG-6")
        ctx.expect(got.get("taskId") == task and got.get("message") == edited, "MSG-6",
                   f"{c.label}'s message_edited carries the edited message", got)


@check("MSG-7")
def delete(ctx: Ctx) -> None:
    """Delete reaches the room; deleting or editing it again is MESSAGE_NOT_FOUND."""
    task = ctx.room("member", "member2")
    a = ctx.join("member", task)
    b = ctx.join("member2", task)
    msg = a.send(task, "to delete")
    ack = a.ok(Event.DELETE_MESSAGE, {"taskId": task, "messageId": msg["id"]}, req="MSG-7")
    ctx.expect(ack.get("messageId") == msg["id"], "MSG-7", "the ack names the message", ack)
    for c in (a, b):
        got = c.wait(Event.MESSAGE_DELETED, req="MSG-7")
        ctx.expect(got == {**got, "taskId": task, "messageId": msg["id"]}, "MSG-7",
                   f"{c.label}'s message_deleted names task and message", got)
    a.refused(Event.DELETE_MESSAGE, {"taskId": task, "messageId": msg["id"]},
              code=ErrorCode.MESSAGE_NOT_FOUND, req="MSG-7")
    a.refused(Event.EDIT_MESSAGE, {"taskId": task, "messageId": msg["id"], "newMessage": "x"},
              code=ErrorCode.MESSAGE_NOT_FOUND, req="MSG-7")


@check("MSG-8")
def unknown_message(ctx: Ctx) -> None:
    """A messageId that does not exist, or is of another task, is MESSAGE_NOT_FOUND."""
    task = ctx.room("member")
    a = ctx.join("member", task)
    missing = ctx.uid("no-msg")
    a.refused(Event.EDIT_MESSAGE, {"taskId": task, "messageId": missing, "newMessage": "x"},
              code=ErrorCode.MESSAGE_NOT_FOUND, req="MSG-8")
    a.refused(Event.DELETE_MESSAGE, {"taskId": task, "messageId": missing},
              code=ErrorCode.MESSAGE_NOT_FOUND, req="MSG-8")
    other = ctx.other_room()
    elsewhere = ctx.join("member", other).send(other, "in another task")
    a.refused(Event.EDIT_MESSAGE, {"taskId": task, "messageId": elsewhere["id"],
                                   "newMessage": "x"},
              code=ErrorCode.MESSAGE_NOT_FOUND, req="MSG-8")
    a.refused(Event.DELETE_MESSAGE, {"taskId": task, "messageId": elsewhere["id"]},
              code=ErrorCode.MESSAGE_NOT_FOUND, req="MSG-8")
