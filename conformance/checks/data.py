"""DATA: the shapes on the wire. DATA-1 is checked on every event and ack of every check by the
observer; the checks here make the server produce each kind of event once."""

from __future__ import annotations

import re
from typing import Any

from taskchat.conformance.context import Ctx, error_code
from taskchat.conformance.registry import check
from taskchat.schemas import ErrorCode, Event

_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|\+00:00)$")


@check("DATA-1", "DATA-4", "DATA-5")
def every_event_validates(ctx: Ctx) -> None:
    """Join, send, edit, delete, type and leave: every event and ack must validate, and every
    time is an ISO 8601 UTC date-time."""
    task = ctx.room("member", "member2")
    a = ctx.join("member", task)
    b = ctx.join("member2", task)
    joined = a.wait(Event.USER_JOINED, req="PRES-1")
    a.ok(Event.TYPING_START, {"taskId": task}, req="TYPE-1")
    b.wait(Event.USER_TYPING, req="TYPE-1")
    msg = a.send(task, "  schema check  ", clientMessageId=ctx.uid("c"),
                 attachments=[{"name": "a.txt", "url": "https://example.com/a.txt", "size": 3,
                               "mime_type": "text/plain"}])
    b.wait(Event.NEW_MESSAGE, req="MSG-1")
    edited = a.ok(Event.EDIT_MESSAGE, {"taskId": task, "messageId": msg["id"],
                                       "newMessage": "edited"}, req="MSG-6")["message"]
    a.ok(Event.DELETE_MESSAGE, {"taskId": task, "messageId": msg["id"]}, req="MSG-7")
    b.wait(Event.MESSAGE_DELETED, req="MSG-7")
    a.call(Event.EDIT_MESSAGE, {"taskId": task, "messageId": "nope", "newMessage": "x"})
    a.wait(Event.ERROR, req="ERR-1")
    b.ok(Event.LEAVE_TASK, task, req="ROOM-4")
    left = a.wait(Event.USER_LEFT, req="PRES-2")
    times: list[tuple[str, Any]] = [
        ("user_joined.timestamp", joined.get("timestamp")),
        ("user_left.timestamp", left.get("timestamp")),
        ("message.created_at", msg.get("created_at")),
        ("message_edited message.updated_at", edited.get("updated_at")),
    ]
    for where, value in times:
        ctx.expect(isinstance(value, str) and bool(_UTC.match(value)), "DATA-4",
                   f"{where} is an ISO 8601 UTC date-time (Z or +00:00)", repr(value))


@check("DATA-2", "ERR-4", "ERR-8")
def bad_ids(ctx: Ctx) -> None:
    """Empty, non-string and 129-character ids are INVALID_PAYLOAD in every event; a
    clientMessageId that is a string of another length should be (the contract caps only
    taskId, messageId and userId: ERR-8, a SHOULD)."""
    task = ctx.room("member")
    a = ctx.join("member", task)
    msg = a.send(task, "target")
    for bad in ("", 42, None, "x" * 129):
        a.refused(Event.JOIN_TASK, bad, code=ErrorCode.INVALID_PAYLOAD, req="DATA-2")
        a.refused(Event.SEND_MESSAGE, {"taskId": bad, "message": "hi"},
                  code=ErrorCode.INVALID_PAYLOAD, req="DATA-2")
        a.refused(Event.EDIT_MESSAGE, {"taskId": task, "messageId": bad, "newMessage": "x"},
                  code=ErrorCode.INVALID_PAYLOAD, req="DATA-2")
        a.refused(Event.DELETE_MESSAGE, {"taskId": task, "messageId": bad},
                  code=ErrorCode.INVALID_PAYLOAD, req="DATA-2")
        if bad is None:  # a null clientMessageId is allowed
            continue
        payload = {"taskId": task, "message": "hi", "clientMessageId": bad}
        if not isinstance(bad, str):
            a.refused(Event.SEND_MESSAGE, payload, code=ErrorCode.INVALID_PAYLOAD, req="DATA-2")
            continue
        ack = a.call(Event.SEND_MESSAGE, payload)
        ctx.expect(isinstance(ack, dict) and ack.get("ok") is False
                   and error_code(ack) == ErrorCode.INVALID_PAYLOAD, "ERR-8",
                   f"a clientMessageId of {len(bad)} characters is INVALID_PAYLOAD (SHOULD)", ack)
    ctx.expect(bool(a.got(Event.NEW_MESSAGE, lambda p: p["message"]["id"] == msg["id"])), "MSG-1",
               "the sender got its own new_message", a.names())


@check("DATA-3")
def attachment_urls(ctx: Ctx) -> None:
    """javascript:, data: and relative attachment URLs are refused; nothing is broadcast."""
    task = ctx.room("member", "member2")
    a = ctx.join("member", task)
    b = ctx.join("member2", task)
    for url in ("javascript:alert(document.cookie)", "JavaScript:alert(1)",
                "data:text/html,<script>alert(1)</script>", "/relative/file.txt",
                "vbscript:msgbox(1)", " javascript:alert(1)"):
        a.refused(Event.SEND_MESSAGE, {"taskId": task, "message": "see attachment",
                                        "attachments": [{"name": "x", "url": url}]},
                  code=ErrorCode.INVALID_PAYLOAD, req="DATA-3")
    marker = ctx.barrier(a, task, [b])
    others = b.got(Event.NEW_MESSAGE, lambda p: p["message"]["id"] != marker["id"])
    ctx.expect(not others, "DATA-3", "no refused message was broadcast", others)
    ok = a.send(task, "fine", attachments=[{"name": "x", "url": "https://example.com/x"}],
                req="DATA-3")
    ctx.expect(ok.get("attachments", [{}])[0].get("url") == "https://example.com/x", "DATA-3",
               "an https attachment is kept", ok)
