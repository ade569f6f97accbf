"""ERR: refusals, their codes, their order, and bad input generated from the schemas."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from taskchat.conformance.context import Ctx, error_code, short
from taskchat.conformance.negatives import UNKNOWN_PROPERTY, negatives
from taskchat.conformance.registry import check
from taskchat.schemas import ErrorCode, Event, Level


@check("ERR-1", "ERR-2", "ERR-7")
def refusal_shape(ctx: Ctx) -> None:
    """A refused request changes nothing; the error event (code, message; SHOULD: event and
    taskId) comes before the ok:false ack with the same code; the connection stays usable."""
    task = ctx.room("member")
    a = ctx.join("member", task)
    seen_before_ack: dict[str, Any] = {}
    done = threading.Event()
    missing = ctx.uid("no-msg")

    def on_ack(args: list[Any]) -> None:
        seen_before_ack["errors"] = a.got(Event.ERROR)
        seen_before_ack["ack"] = args[0] if args else None
        done.set()

    a.conn.emit_with_ack(Event.EDIT_MESSAGE,
                         {"taskId": task, "messageId": missing, "newMessage": "x"},
                         callback=on_ack)
    if not done.wait(ctx.target.timeouts.ack):
        ctx.fail("ERR-2", "an ok:false ack", "no ack within the ack timeout")
    ack = seen_before_ack["ack"]
    errors = seen_before_ack["errors"]
    ctx.expect(bool(errors), "ERR-2", "the error event arrives before the ack", a.names())
    err = a.wait(Event.ERROR, req="ERR-1")
    ctx.expect(err.get("code") == ErrorCode.MESSAGE_NOT_FOUND and bool(err.get("message")),
               "ERR-1", "the error event carries the code and a message", err)
    ctx.expect(err.get("event") == Event.EDIT_MESSAGE and err.get("taskId") == task,
               "ERR-7", "the error event names the event and the taskId", err)
    ctx.expect(isinstance(ack, dict) and ack.get("ok") is False
               and error_code(ack) == err.get("code"), "ERR-2",
               "the ack is ok:false with the error event's code", ack)
    ctx.expect(a.conn.connected, "ERR-1", "the connection stays open", a.conn.close_reason)
    a.send(task, "still usable", req="ERR-1")


@check("ERR-3")
def precedence(ctx: Ctx) -> None:
    """When several rules break, the first in the spec's order wins."""
    task = ctx.room("member", "viewer")
    missing = ctx.missing_task()
    outsider = ctx.connect("outsider")
    member = ctx.connect("member")
    viewer = ctx.connect("viewer")
    # INVALID_PAYLOAD beats TASK_NOT_FOUND
    member.refused(Event.SEND_MESSAGE, {"taskId": missing, "message": "   "},
                   code=ErrorCode.INVALID_PAYLOAD, req="ERR-3")
    # TASK_NOT_FOUND beats FORBIDDEN (not a member) and NOT_JOINED
    outsider.refused(Event.SEND_MESSAGE, {"taskId": missing, "message": "hi"},
                     code=ErrorCode.TASK_NOT_FOUND, req="ERR-3")
    # FORBIDDEN (not a member) beats NOT_JOINED
    outsider.refused(Event.TYPING_START, {"taskId": task}, code=ErrorCode.FORBIDDEN, req="ERR-3")
    # NOT_JOINED beats FORBIDDEN (role)
    viewer.refused(Event.SEND_MESSAGE, {"taskId": task, "message": "hi"},
                   code=ErrorCode.NOT_JOINED, req="ERR-3")
    # FORBIDDEN (role) beats MESSAGE_NOT_FOUND
    viewer.join(task)
    viewer.refused(Event.EDIT_MESSAGE, {"taskId": task, "messageId": ctx.uid("no"),
                                        "newMessage": "x"},
                   code=ErrorCode.FORBIDDEN, req="ERR-3")
    # NOT_JOINED beats MESSAGE_NOT_FOUND
    member.refused(Event.DELETE_MESSAGE, {"taskId": task, "messageId": ctx.uid("no")},
                   code=ErrorCode.NOT_JOINED, req="ERR-3")


def _base_payloads(task: str, msg: dict[str, Any], cid: str) -> dict[str, Any]:
    return {
        Event.JOIN_TASK: task,
        Event.LEAVE_TASK: task,
        Event.SEND_MESSAGE: {"taskId": task, "message": "valid text", "replyTo": msg["id"],
                             "clientMessageId": cid,
                             "attachments": [{"name": "a.txt", "url": "https://example.com/a",
                                              "size": 1, "mime_type": "text/plain"}]},
        Event.EDIT_MESSAGE: {"taskId": task, "messageId": msg["id"], "newMessage": "edited"},
        Event.DELETE_MESSAGE: {"taskId": task, "messageId": msg["id"]},
        Event.TYPING_START: {"taskId": task},
        Event.TYPING_STOP: {"taskId": task},
    }


@check("ERR-4", "ERR-8", "ERR-9", "DATA-2", "DATA-3", "MSG-2", "MSG-3")
def generated_bad_payloads(ctx: Ctx) -> None:
    """Negative payloads generated from the schemas (one broken constraint each, then seeded
    random mutations), each graded by the schema's level (D24): a MUST negative is
    INVALID_PAYLOAD and changes nothing; a SHOULD negative should be refused too, and when it
    is accepted it must do no harm (ERR-9). The socket stays usable throughout."""
    task = ctx.room("member", "member2")
    a = ctx.join("member", task)
    watcher = ctx.join("member2", task)
    msg = a.send(task, "the message the negatives point at")
    before = _history_ids(ctx, task)
    budget_end = time.monotonic() + 8.0
    sent = 0
    accepted: list[tuple[str, Any]] = []  # (event, ack) of SHOULD negatives the server took
    for event, base in _base_payloads(task, msg, ctx.uid("c")).items():
        for neg in negatives(event, base, seed=ctx.target.seed):
            if time.monotonic() > budget_end:
                break
            ack = a.call(event, neg.payload, req="ERR-4")
            refused = (isinstance(ack, dict) and ack.get("ok") is False
                       and error_code(ack) == ErrorCode.INVALID_PAYLOAD)
            if neg.level == Level.MUST:
                ctx.expect(refused, "ERR-4", f"{event} with {neg.description} is INVALID_PAYLOAD",
                           f"ack {ack}")
            elif not ctx.expect(refused, "ERR-8", f"{event} with {neg.description} (a SHOULD "
                                "constraint) is INVALID_PAYLOAD", f"ack {short(ack)}"):
                accepted.append((event, ack))
                _no_harm(ctx, event, neg.description, ack)
            sent += 1
            if not a.conn.connected:
                ctx.fail("ERR-9" if neg.level == Level.SHOULD else "ERR-4",
                         "the connection stays open after a bad payload",
                         f"closed ({a.conn.close_reason}) after {event}: {neg.description}")
    marker = ctx.barrier(a, task, [watcher])
    expected = {marker["id"], msg["id"]} | {
        ack["message"].get("id") for event, ack in accepted
        if event == Event.SEND_MESSAGE and isinstance(ack, dict)
        and isinstance(ack.get("message"), dict)}
    took = {event for event, _ in accepted}
    for m in watcher.got(Event.NEW_MESSAGE, lambda p: p["message"]["id"] in expected - {msg["id"]}):
        _no_harm(ctx, Event.NEW_MESSAGE, "a message broadcast after a SHOULD negative",
                 {"ok": True, "message": m.get("message")})
    changed = [*watcher.got(Event.NEW_MESSAGE, lambda p: p["message"]["id"] not in expected),
               *([] if Event.EDIT_MESSAGE in took else watcher.got(Event.MESSAGE_EDITED)),
               *([] if Event.DELETE_MESSAGE in took else watcher.got(Event.MESSAGE_DELETED)),
               *([] if Event.TYPING_START in took else watcher.got(Event.USER_TYPING))]
    ctx.expect(not changed, "ERR-4", f"none of the {sent - len(accepted)} refused payloads "
               "changed anything", changed)
    after = _history_ids(ctx, task)
    if before is not None and after is not None and not accepted:
        ctx.expect([m[0] for m in after[:1]] == [marker["id"]] and after[1:] == before, "ERR-4",
                   "history holds only the barrier message more, the target message untouched",
                   {"before": before, "after": after})


_HTTP = re.compile(r"^[Hh][Tt][Tt][Pp][Ss]?://")


def _no_harm(ctx: Ctx, event: str, what: str, ack: Any) -> None:
    """ERR-9: what a server accepted in spite of a SHOULD constraint carries no unknown
    property of the client's into the message object, and only http(s) URLs."""
    message = ack.get("message") if isinstance(ack, dict) else None
    if not isinstance(message, dict):
        return
    ctx.expect(not _has_key(message, UNKNOWN_PROPERTY), "ERR-9",
               f"the message object sent back for {event} ({what}) carries none of the "
               "client's unknown properties", short(message))
    for att in message.get("attachments") or []:
        url = att.get("url") if isinstance(att, dict) else None
        ctx.expect(isinstance(url, str) and bool(_HTTP.match(url)), "ERR-9",
                   f"a stored attachment URL is http(s) ({event}, {what})", repr(url))


def _has_key(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        return key in value or any(_has_key(v, key) for v in value.values())
    if isinstance(value, list):
        return any(_has_key(v, key) for v in value)
    return False


def _history_ids(ctx: Ctx, task: str) -> list[Any] | None:
    """The stored messages as (id, text, deleted) when the target offers history."""
    if not ctx.target.http_api:
        return None
    resp = ctx.history("member", task)
    if resp.status_code != 200:
        return None
    return [(m.get("id"), m.get("message"), m.get("is_deleted", False))
            for m in resp.json().get("messages", [])]


@check("ERR-5")
def unknown_event(ctx: Ctx) -> None:
    """An event outside the protocol gets UNKNOWN_EVENT, in an error event and the ack."""
    a = ctx.connect("member")
    a.refused("make_coffee", {"sugar": 2}, code=ErrorCode.UNKNOWN_EVENT, req="ERR-5")


@check("ERR-6", "MSG-5", exclusive=True)
def rate_limit_slow(ctx: Ctx) -> None:
    """Sending faster than the limit is RATE_LIMITED; a retry of an acknowledged message is
    still answered at the limit; after the window sending works again. (Runs alone when the
    users are shared: the limit is per user.)"""
    limit = ctx.target.rate_limit
    count = limit.count if limit else 20
    window = limit.window if limit else 10.0
    task = ctx.room("member")
    a = ctx.join("member", task)
    cid = ctx.uid("before-limit")
    original = a.send(task, "acknowledged before the burst", clientMessageId=cid, req="MSG-5")
    refused_at = None
    for i in range(count * 3):
        ack = a.call(Event.SEND_MESSAGE, {"taskId": task, "message": f"burst {i}"})
        if isinstance(ack, dict) and ack.get("ok") is False:
            code = error_code(ack)
            ctx.expect(code == ErrorCode.RATE_LIMITED, "ERR-6", "a burst is RATE_LIMITED", ack)
            refused_at = time.monotonic()
            break
    if refused_at is None:
        ctx.fail("ERR-6", f"a burst of {count * 3} messages is rate limited",
                 "every message was accepted")
    retry = a.call(Event.SEND_MESSAGE, {"taskId": task, "message": "retry",
                                        "clientMessageId": cid})
    ctx.expect(isinstance(retry, dict) and retry.get("ok") is True
               and retry.get("message", {}).get("id") == original["id"], "MSG-5",
               "a repeated clientMessageId is answered with the original even at the limit",
               retry)
    deadline = refused_at + window + ctx.target.timeouts.event
    while time.monotonic() < deadline:
        ack = a.call(Event.SEND_MESSAGE, {"taskId": task, "message": "after the window"})
        if isinstance(ack, dict) and ack.get("ok") is True:
            return
        time.sleep(min(1.0, window / 5))  # polling a window that has no event to wait for
    ctx.fail("ERR-6", "sending works again after the rate window", "still refused")
